"""Room specs through the admin API, next to the spec files.

A room id is owned by exactly one place: a spec file in the spec directory (edit the file;
the API answers 409 and says so) or the store (made through the API; every instance sees it,
and the daemon applies it on its next pass, at once on the instance that took the request).
API specs are validated exactly like a spec file's room: the same model and the same
resolution of people and groups, with errors naming the field.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bridges.rooms.plan import Plan
from bridges.rooms.spec import (
    API_OWNED,
    Room,
    RoomSpec,
    SpecError,
    SpecSet,
    api_source,
    is_api_owned,
    validate_spec,
)
from samtek.admin.context import RoomPlan, RoomSpecConflict, RoomSpecRecord, RoomSpecRejected
from samtek.store import Store

NAMESPACE = "rooms.spec"  # connector_state rows: key = room id, value = the spec as JSON


class RoomSpecRegistry:
    def __init__(
        self,
        store: Store,
        read_files: Callable[[], SpecSet],
        resolve: Callable[[SpecSet], list[Room]],
        changed: Callable[[], None],
        today: Callable[[], date],
        preview: Callable[[], Awaitable[Plan]],
    ) -> None:
        self._store = store
        self._read_files = read_files  # the spec directory alone (blocking: run in a thread)
        self._resolve = resolve  # against the current directory and groups
        self._changed = changed  # wakes the daemon
        self._today = today  # in the rooms' timezone, as the daemon's phases are
        self._preview = preview
        self._lock = asyncio.Lock()  # check-then-store is one step per instance

    async def stored(self) -> dict[str, dict[str, Any]]:
        rows = await self._store.list_state(NAMESPACE)
        return {room_id: json.loads(value) for room_id, value in rows.items()}

    async def list(self) -> list[RoomSpecRecord]:
        files = await self._files()
        records = [_record(path, spec) for path, _index, spec in files.rooms]
        records += [
            RoomSpecRecord(room_id, "api", str(API_OWNED), raw)
            for room_id, raw in (await self.stored()).items()
        ]
        return sorted(records, key=lambda r: r.id)

    async def plan(self) -> RoomPlan:
        """The daemon's plan against the live MUC service, nothing applied."""
        try:
            plan = await self._preview()
        except SpecError as exc:
            raise RoomSpecRejected(exc.errors) from None
        return RoomPlan(changes=len(plan.actions), lines=[i.describe() for i in plan.items])

    async def get(self, room_id: str) -> RoomSpecRecord | None:
        return next((r for r in await self.list() if r.id == room_id), None)

    async def create(self, spec: Mapping[str, Any]) -> RoomSpecRecord:
        async with self._lock:
            parsed = await self.check(spec)
            existing = await self.get(parsed.id)
            if existing is not None:
                raise RoomSpecConflict(
                    f"room {parsed.id!r} exists already ({_owned_by(existing)});"
                    " change an API-made room with PUT"
                )
            return await self._save(parsed)

    async def replace(self, room_id: str, spec: Mapping[str, Any]) -> RoomSpecRecord:
        async with self._lock:
            if await self._editable(room_id) is None:
                raise KeyError(room_id)
            parsed = await self.check({**spec, "id": spec.get("id", room_id)})
            if parsed.id != room_id:
                raise RoomSpecRejected([f"id: {parsed.id!r} differs from the path's {room_id!r}"])
            return await self._save(parsed)

    async def archive(self, room_id: str) -> RoomSpecRecord | None:
        """Close an API-made room: its end date becomes yesterday, so the daemon archives it
        (notice, closed to members, history kept) and destroys it after the retention time,
        exactly as for a spec file whose end date has passed."""
        async with self._lock:
            existing = await self._editable(room_id)
            if existing is None:
                return None
            yesterday = self._today() - timedelta(days=1)
            spec = dict(existing.spec)
            if "end" not in spec or date.fromisoformat(spec["end"]) > yesterday:
                spec["end"] = yesterday.isoformat()
                if "start" in spec and date.fromisoformat(spec["start"]) > yesterday:
                    spec["start"] = yesterday.isoformat()
            return await self._save(validate_spec(spec, ""))

    async def _files(self) -> SpecSet:
        try:
            return await asyncio.to_thread(self._read_files)
        except SpecError as exc:
            # Which room a file owns is unknown while it is broken: change nothing until fixed.
            raise RoomSpecConflict(
                "the room spec files have errors; fix them first: " + "; ".join(exc.errors)
            ) from None

    async def _editable(self, room_id: str) -> RoomSpecRecord | None:
        existing = await self.get(room_id)
        if existing is not None and existing.owner == "file":
            raise RoomSpecConflict(
                f"room {room_id!r} is declared in the spec file {existing.source}:"
                " edit that file; the API changes only the rooms it made"
            )
        return existing

    async def check(self, raw: Mapping[str, Any]) -> RoomSpec:
        """The spec alone, then resolved together with every other spec (people, groups).
        Errors of other specs (a broken file) are not this request's and do not block it."""
        try:
            parsed = validate_spec(raw, "")
        except SpecError as exc:
            raise RoomSpecRejected(exc.errors) from None
        files = await self._files()
        others: list[tuple[Path, int | None, RoomSpec]] = []
        for room_id, raw in (await self.stored()).items():
            try:
                if room_id != parsed.id:
                    others.append((api_source(room_id), None, validate_spec(raw, room_id)))
            except SpecError:
                continue  # an older spec no longer valid: the daemon reports it in health

        mine = f"{api_source(parsed.id)}: "
        try:
            self._resolve(SpecSet([*files.rooms, *others, (api_source(parsed.id), None, parsed)],
                                  files.groups))  # fmt: skip
        except SpecError as exc:
            errors = [e.removeprefix(mine) for e in exc.errors if e.startswith(mine)]
            if errors:
                raise RoomSpecRejected(errors) from None
        return parsed

    async def _save(self, spec: RoomSpec) -> RoomSpecRecord:
        record = _record(api_source(spec.id), spec)
        await self._store.put_state(NAMESPACE, spec.id, json.dumps(record.spec, sort_keys=True))
        self._changed()
        return RoomSpecRecord(spec.id, "api", str(API_OWNED), record.spec)


def _record(path: Path, spec: RoomSpec) -> RoomSpecRecord:
    raw = {"id": spec.id, **spec.model_dump(mode="json", exclude_defaults=True)}
    return RoomSpecRecord(spec.id, "api" if is_api_owned(path) else "file", str(path), raw)


def _owned_by(record: RoomSpecRecord) -> str:
    return f"declared in {record.source}" if record.owner == "file" else "made through the API"
