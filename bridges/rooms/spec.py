"""Room specs: TOML files in the spec directory, validated, then resolved to JIDs.

A file holds one room (top-level keys) or several (`[[rooms]]`), and optionally a `[groups]`
table (static directory groups: name -> person ids / JIDs). Every error names the file and the
dotted key, and all errors of all files are reported at once, like samtek/config.py does.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError, model_validator

from bridges.rooms.settings import DialIn
from samtek.config import _describe, _dotted, _valid_jid
from samtek.groups import GroupDirectory, StaticGroups, UnknownGroup
from samtek.model import CalendarRef, Person

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def _valid_slug(value: str) -> str:
    if not _SLUG.match(value):
        raise ValueError(
            f"{value!r} is not a room id: lower-case letters, digits and '-', at most 63"
        )
    return value


Slug = Annotated[str, AfterValidator(_valid_slug)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CalendarLink(_Model):
    source: str  # the calendar connector's name
    address: str


class Video(_Model):
    enabled: bool = True


class RoomSpec(_Model):
    id: Slug
    name: str
    description: str = ""
    owners: list[str] = []
    members: list[str] = []
    groups: list[str] = []
    municipality: str | None = None
    start: date | None = None
    end: date | None = None
    language: Literal["nb", "nn", "en"] = "nb"
    public: bool = False
    unmanaged: bool = False
    destroy_history_on_retention: bool = False
    calendar: CalendarLink | None = None
    video: Video = Video()
    dialin: DialIn | None = None

    @model_validator(mode="after")
    def _dates(self) -> RoomSpec:
        if self.start and self.end and self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class _File(_Model):
    rooms: list[RoomSpec] = []
    groups: dict[str, list[str]] = {}


@dataclass(frozen=True, slots=True)
class Room:
    """A spec resolved against the directory: what the reconciler works with."""

    spec: RoomSpec
    jid: str
    owners: frozenset[str]
    members: frozenset[str]  # never contains an owner
    source_file: Path
    calendar: CalendarRef | None

    @property
    def id(self) -> str:
        return self.spec.id


class SpecError(Exception):
    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("\n".join(errors))


@dataclass(frozen=True, slots=True)
class SpecSet:
    rooms: list[tuple[Path, int | None, RoomSpec]]  # file, index in [[rooms]] or None
    groups: dict[str, set[str]]  # group name -> raw entries (person ids / JIDs)


API_OWNED = Path("admin-api")  # the "file" of a spec made through the admin API


def api_source(room_id: str) -> Path:
    return API_OWNED / room_id


def is_api_owned(path: Path) -> bool:
    return path.parent == API_OWNED


def validate_spec(raw: Mapping[str, Any], where: str) -> RoomSpec:
    """One spec as the admin API receives it, validated like a spec file's room."""
    try:
        return RoomSpec.model_validate(dict(raw))
    except ValidationError as exc:
        prefix = f"{where}: " if where else ""
        raise SpecError([prefix + line for line in _describe(exc, RoomSpec, ())]) from None


def read_specs(spec_dir: Path, stored: Mapping[str, Mapping[str, Any]] | None = None) -> SpecSet:
    """Parse and validate every *.toml in `spec_dir` and the API-made specs in `stored`
    (room id -> spec as JSON), not resolved yet. A room id is owned by one of them."""
    errors: list[str] = []
    rooms: list[tuple[Path, int | None, RoomSpec]] = []
    groups: dict[str, set[str]] = {}
    if not spec_dir.is_dir():
        raise SpecError([f"{spec_dir}: room spec directory does not exist"])
    for room_id, raw in sorted((stored or {}).items()):
        try:
            rooms.append((api_source(room_id), None, validate_spec(raw, str(api_source(room_id)))))
        except SpecError as exc:
            errors.extend(exc.errors)
    for path in sorted(spec_dir.glob("*.toml")):
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            errors.append(f"{path}: cannot read the file: {exc.strerror}")
            continue
        except tomllib.TOMLDecodeError as exc:
            errors.append(f"{path}: not valid TOML: {exc}")
            continue
        single = "rooms" not in raw and "id" in raw
        if single:
            # `groups = [...]` is the room's groups; a `[groups]` table is the file's groups
            table = raw.get("groups") if isinstance(raw.get("groups"), dict) else {}
            raw = {
                "rooms": [{k: v for k, v in raw.items() if not (k == "groups" and table)}],
                "groups": table,
            }
        try:
            parsed = _File.model_validate(raw)
        except ValidationError as exc:
            for line in _describe(exc, _File, prefix=()):
                # a one-room file has no [[rooms]]: report its keys as written
                errors.append(f"{path}: {line.removeprefix('rooms[0].') if single else line}")
            continue
        for index, spec in enumerate(parsed.rooms):
            rooms.append((path, None if single else index, spec))
        for name, entries in parsed.groups.items():
            groups.setdefault(name, set()).update(entries)
    seen: dict[str, Path] = {}
    for path, where, spec in rooms:
        if spec.id in seen:
            errors.append(
                f"{path}: {_where(where, 'id')}: duplicate room id {spec.id!r}"
                f" (also in {seen[spec.id]})"
            )
        seen.setdefault(spec.id, path)
    if errors:
        raise SpecError(errors)
    return SpecSet(rooms, groups)


def resolve(
    specs: SpecSet,
    people: Mapping[str, Person],
    muc_service: str,
    groups: GroupDirectory | None = None,
    extra_groups: Mapping[str, list[str]] | None = None,
) -> list[Room]:
    """Person ids, JIDs and group names -> bare JIDs. `groups` overrides the static groups."""
    errors: list[str] = []

    def jid_of(entry: str) -> str | None:
        if entry in people:
            return people[entry].jid.lower()
        if "@" in entry:
            try:
                return _valid_jid(entry)
            except ValueError as exc:
                raise LookupError(str(exc)) from None
        raise LookupError(f"unknown person id {entry!r} (not in [[people]])")

    if groups is None:
        raw_groups = {name: set(v) for name, v in (extra_groups or {}).items()}
        for name, entries in specs.groups.items():
            raw_groups.setdefault(name, set()).update(entries)
        static: dict[str, set[str]] = {}
        for name, entries in raw_groups.items():
            static[name] = set()
            for entry in sorted(entries):
                try:
                    jid = jid_of(entry)
                except LookupError as exc:
                    errors.append(f"groups.{name}: {exc}")
                    continue
                if jid:
                    static[name].add(jid)
        groups = StaticGroups(static)

    rooms: list[Room] = []
    for path, index, spec in specs.rooms:
        owners: set[str] = set()
        members: set[str] = set()
        for key, target in (("owners", owners), ("members", members)):
            for i, entry in enumerate(getattr(spec, key)):
                try:
                    jid = jid_of(entry)
                except LookupError as exc:
                    errors.append(f"{path}: {_where(index, f'{key}[{i}]')}: {exc}")
                    continue
                if jid:
                    target.add(jid)
        for i, group in enumerate(spec.groups):
            try:
                members |= groups.members(group)
            except UnknownGroup:
                errors.append(f"{path}: {_where(index, f'groups[{i}]')}: unknown group {group!r}")
        if not owners:
            errors.append(f"{path}: {_where(index, 'owners')}: a room needs at least one owner")
        calendar = (
            CalendarRef(spec.calendar.source, spec.calendar.address) if spec.calendar else None
        )
        rooms.append(
            Room(
                spec=spec,
                jid=f"{spec.id}@{muc_service}",
                owners=frozenset(owners),
                members=frozenset(members - owners),
                source_file=path,
                calendar=calendar,
            )
        )
    if errors:
        raise SpecError(errors)
    return rooms


def _where(index: int | None, key: str) -> str:
    return key if index is None else _dotted(("rooms", index, key))
