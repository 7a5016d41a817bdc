"""What the admin side reads from the running service (built in the composition root)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from aiohttp import web
from pydantic import BaseModel

from samtek.admin.config import AdminSection
from samtek.admin.history import StatusHistory
from samtek.clock import SYSTEM_CLOCK, Clock
from samtek.directory import DirectoryService
from samtek.model import OutOfOffice, PresenceClaim
from samtek.presence.resolver import Resolution
from samtek.runtime.supervisor import Supervisor
from samtek.store.audit import AuditLog


class PresenceView(Protocol):
    """The presence bridge's read side."""

    def explain(self, person_id: str, at: datetime | None = None) -> Resolution | None: ...
    def claims(self, person_id: str) -> list[PresenceClaim]: ...
    def out_of_office(self, person_id: str) -> OutOfOffice | None: ...
    def overlaid(self) -> list[str]: ...


@dataclass(frozen=True)
class RoomSpecRecord:
    """One room spec as the admin API shows it, and who owns it."""

    id: str
    owner: str  # "file" (edit the file) or "api" (edit through the API)
    source: str  # the spec file's path, or "admin-api"
    spec: dict[str, Any]


@dataclass(frozen=True)
class RoomPlan:
    """What the rooms daemon would change now."""

    changes: int
    lines: list[str]  # one per item, as `samtek rooms plan` prints them


class RoomSpecRejected(Exception):
    """The spec is invalid; each error names the field ("members[0]: unknown person")."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("; ".join(errors))


class RoomSpecConflict(Exception):
    """The change cannot be made as asked (the id exists, or a file owns the room)."""


@dataclass(frozen=True)
class RoomRequestRecord:
    """A project room asked for in chat, waiting for (or past) an admin's decision."""

    id: str
    requester: str  # person id
    state: str  # pending | approved | rejected
    spec: dict[str, Any]
    created: str  # ISO 8601
    decided_by: str | None = None
    reason: str | None = None


class RoomRequests(Protocol):
    async def list(self) -> list[RoomRequestRecord]: ...
    async def approve(self, request_id: str, actor: str) -> object: ...
    async def reject(self, request_id: str, actor: str, reason: str) -> object: ...


class RoomSpecs(Protocol):
    """The rooms feature's spec registry, as the admin API uses it."""

    async def list(self) -> list[RoomSpecRecord]: ...
    async def plan(self) -> RoomPlan: ...
    async def get(self, room_id: str) -> RoomSpecRecord | None: ...
    async def create(self, spec: Mapping[str, Any]) -> RoomSpecRecord: ...
    async def replace(self, room_id: str, spec: Mapping[str, Any]) -> RoomSpecRecord: ...
    async def archive(self, room_id: str) -> RoomSpecRecord | None: ...


# The parts without which /admin/health answers 503 (not ready).
CORE_PARTS: tuple[str, ...] = ("xmpp", "presence", "http", "directory")


@dataclass
class AdminContext:
    settings: AdminSection
    supervisor: Supervisor
    directory: DirectoryService
    audit: AuditLog
    connectors: Mapping[str, object] = field(default_factory=dict)  # by connector name
    presence: PresenceView | None = None
    rooms: RoomSpecs | None = None  # None: no [rooms] section in the config
    room_requests: RoomRequests | None = None
    core_parts: Sequence[str] = CORE_PARTS
    resyncs: dict[str, asyncio.Task[None]] = field(default_factory=dict)  # running, by name
    history: StatusHistory | None = None  # the status page's charts
    clock: Clock = SYSTEM_CLOCK


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Endpoint:
    """One admin route: served by aiohttp and described in the OpenAPI document."""

    method: str
    path: str  # relative to /admin
    handler: Handler
    summary: str
    response: type[BaseModel] | None = None  # None: not JSON (HTML, text)
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()  # answered with ErrorOut
    also: tuple[int, ...] = ()  # other statuses answered with `response` (202, 503)
    public: bool = False  # health probes and the spec need no token
    status_page: bool = False  # public only when [admin] public_status = true
    content_type: str = "application/json"


CONTEXT = web.AppKey("admin_context", AdminContext)
ENDPOINTS = web.AppKey("admin_endpoints", dict[Handler, Endpoint])
