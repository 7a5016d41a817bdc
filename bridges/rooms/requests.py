"""Room requests: project leaders ask for a room in chat; an admin approves or rejects it.

A request is a room spec waiting for a decision (kept in the store, so every instance and a
restart see it). Approval turns it into an API-owned spec (bridges/rooms/registry.py), which
the daemon provisions at once; the requester is told the outcome in chat, in their language.
Municipalities listed in `[rooms] auto_approve_municipalities` get their staff's rooms at once.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import structlog

from bridges.rooms.registry import RoomSpecRegistry
from bridges.rooms.settings import RoomsSection
from bridges.rooms.texts import LANGUAGES, text
from samtek.admin.context import RoomRequestRecord, RoomSpecConflict
from samtek.clock import Clock
from samtek.model import Person
from samtek.store import Store

log = structlog.get_logger("samtek.rooms")

NAMESPACE = "rooms.request"  # connector_state rows: key = request id, value = JSON
_FOLD = str.maketrans({"æ": "ae", "ø": "o", "å": "a", "Æ": "ae", "Ø": "o", "Å": "a"})
MAX_NAME = 100


def room_id_for(name: str) -> str:
    """'Ny skole Notodden' -> 'ny-skole-notodden' (a valid room id: [a-z0-9-], ≤ 63)."""
    folded = unicodedata.normalize("NFKD", name.translate(_FOLD).lower())
    ascii_only = "".join(c for c in folded if not unicodedata.combining(c))
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_only).strip("-")[:60].strip("-")
    return slug or "prosjekt"


@dataclass(frozen=True)
class Request:
    id: str
    requester: str  # person id
    jid: str  # where the outcome is told
    language: str
    spec: dict[str, Any]
    state: str  # pending | approved | rejected
    created: str
    decided_by: str | None = None
    reason: str | None = None

    def record(self) -> RoomRequestRecord:
        return RoomRequestRecord(
            self.id, self.requester, self.state, dict(self.spec), self.created,
            self.decided_by, self.reason,
        )  # fmt: skip


class RoomRequests:
    def __init__(
        self,
        settings: RoomsSection,
        store: Store,
        registry: RoomSpecRegistry,
        tell: Callable[[str, str], object],
        clock: Clock,
    ) -> None:
        self._settings = settings
        self._store = store
        self._registry = registry
        self._tell = tell  # (JID, text): a chat message from SAMTEK
        self._clock = clock
        self._lock = asyncio.Lock()

    async def submit(
        self, requester: Person, name: str, members: list[str], groups: list[str]
    ) -> Request:
        """A new request (validated like any spec: unknown people or groups are refused with
        the field named); approved at once for auto-approved municipalities."""
        name = " ".join(name.split())[:MAX_NAME]
        async with self._lock:
            mine = [r for r in (await self._all()).values() if r.requester == requester.id]
            pending = sum(r.state == "pending" for r in mine)
            if pending >= self._settings.max_pending_requests_per_person:
                raise RoomSpecConflict("too many pending room requests: wait for a decision")
            language = requester.language if requester.language in LANGUAGES else "nb"
            spec: dict[str, Any] = {
                "id": await self._free_id(room_id_for(name)),
                "name": name,
                "owners": [requester.id],
                "members": sorted(set(members) - {requester.id}),
                "groups": sorted(set(groups)),
                "language": language,
                "municipality": requester.municipality,
            }
            await self._registry.check(spec)  # raises RoomSpecRejected naming the field
            request = Request(
                secrets.token_hex(6), requester.id, requester.jid, language, spec,
                "pending", self._clock.now().isoformat(),
            )  # fmt: skip
            await self._save(request)
        log.info("room requested", request=request.id, room=spec["id"], by=requester.id)
        if requester.municipality in self._settings.auto_approve_municipalities:
            return await self.approve(request.id, "auto-approval")
        self._tell(request.jid, text(request.language, "request_received", name=name))
        return request

    async def list(self) -> list[RoomRequestRecord]:
        requests = sorted((await self._all()).values(), key=lambda r: r.created)
        return [r.record() for r in requests]

    async def approve(self, request_id: str, actor: str) -> Request:
        async with self._lock:
            request = await self._pending(request_id)
            await self._registry.create(request.spec)  # the daemon provisions it now
            decided = Request(**{**asdict(request), "state": "approved", "decided_by": actor})
            await self._save(decided)
        name = decided.spec["name"]
        self._tell(decided.jid, text(decided.language, "request_approved", name=name))
        return decided

    async def reject(self, request_id: str, actor: str, reason: str) -> Request:
        async with self._lock:
            request = await self._pending(request_id)
            decided = Request(
                **{**asdict(request), "state": "rejected", "decided_by": actor, "reason": reason}
            )
            await self._save(decided)
        self._tell(
            decided.jid,
            text(decided.language, "request_rejected", name=decided.spec["name"], reason=reason),
        )
        return decided

    async def _pending(self, request_id: str) -> Request:
        request = (await self._all()).get(request_id)
        if request is None:
            raise KeyError(request_id)
        if request.state != "pending":
            raise RoomSpecConflict(f"request {request_id} is {request.state} already")
        return request

    async def _free_id(self, wanted: str) -> str:
        taken = {r.id for r in await self._registry.list()} | {
            str(r.spec["id"]) for r in (await self._all()).values() if r.state == "pending"
        }
        candidate, n = wanted, 2
        while candidate in taken:
            candidate, n = f"{wanted[:58]}-{n}", n + 1
        return candidate

    async def _all(self) -> dict[str, Request]:
        rows: Mapping[str, str] = await self._store.list_state(NAMESPACE)
        return {key: Request(**json.loads(value)) for key, value in rows.items()}

    async def _save(self, request: Request) -> None:
        await self._store.put_state(NAMESPACE, request.id, json.dumps(asdict(request)))
