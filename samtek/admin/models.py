"""Request and response shapes of the admin API (also the source of its OpenAPI schemas)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from samtek.health import HealthSnapshot


def _aware(value: datetime) -> datetime:
    """A query time without offset means UTC (never the server's local time)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]
Text = Annotated[str, Field(min_length=1, max_length=200)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- inputs --------------------------------------------------------------------------------
class PeopleQuery(_In):
    municipality: Text | None = None
    q: Text | None = Field(None, description="substring of id, name, JID or e-mail")
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=1_000_000)


class AuditQuery(_In):
    since: AwareDatetime | None = Field(None, description="ISO 8601; without offset: UTC")
    actor: Text | None = None
    limit: int = Field(100, ge=1, le=1000)


class ResyncRequest(_In):
    connectors: list[Text] | None = Field(
        None, max_length=100, description="connector names; all resyncable ones when omitted"
    )
    wait_seconds: float = Field(10.0, ge=0, le=60, description="how long to wait for them")


# -- outputs -------------------------------------------------------------------------------
class FieldError(_Out):
    field: str
    message: str


class ErrorOut(_Out):
    error: str
    fields: list[FieldError] = []


class LivenessOut(_Out):
    live: bool


class HealthOut(_Out):
    live: bool
    ready: bool
    not_ready: list[str] = Field(description="core parts that are not running")
    failing: list[str] = Field(description="all parts that are failing or degraded")


class ItemCountsOut(_Out):
    published: int = Field(description="events published at the item's last read")
    refused: int = Field(description="events refused at the item's last read")
    reasons: list[str] = Field(description="event UID and reason per refused or damaged item")


class PartHealth(_Out):
    name: str
    state: str
    since: datetime
    reason: str | None
    last_success: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    restarts: int
    next_retry: datetime | None
    item_errors: dict[str, str]
    item_counts: dict[str, ItemCountsOut] = Field(
        default_factory=dict, description="per feed or mailbox: events published, refused"
    )
    resyncable: bool

    @classmethod
    def of(cls, snapshot: HealthSnapshot, resyncable: bool) -> PartHealth:
        return cls(
            name=snapshot.name,
            state=snapshot.state.value,
            since=snapshot.since,
            reason=snapshot.reason,
            last_success=snapshot.last_success,
            last_error=snapshot.last_error,
            last_error_at=snapshot.last_error_at,
            restarts=snapshot.restarts,
            next_retry=snapshot.next_retry,
            item_errors=snapshot.item_errors,
            item_counts={
                item: ItemCountsOut(
                    published=c.published, refused=c.refused, reasons=list(c.reasons)
                )
                for item, c in snapshot.item_counts.items()
            },
            resyncable=resyncable,
        )


class ConnectorsOut(_Out):
    parts: list[PartHealth]


class CalendarOut(_Out):
    source: str
    address: str


class PersonOut(_Out):
    id: str
    jid: str
    name: str
    municipality: str
    language: str
    timezone: str
    email: str | None
    phones: list[str]
    calendars: list[CalendarOut]


class PeopleOut(_Out):
    total: int
    people: list[PersonOut]


class GroupsOut(_Out):
    groups: dict[str, list[str]] = Field(description="group name -> member bare JIDs")


class ClaimOut(_Out):
    source: str
    kind: str
    show: str
    valid_from: datetime
    valid_until: datetime
    claim_id: str
    active: bool
    winning: bool


class EffectiveOut(_Out):
    show: str
    kind: str
    since: datetime
    until: datetime
    active_claims: int


class OutOfOfficeOut(_Out):
    enabled: bool
    start: datetime | None
    end: datetime | None


class PresenceOut(_Out):
    person_id: str
    at: datetime
    effective: EffectiveOut | None = Field(description="None: the person's own presence")
    claims: list[ClaimOut]
    out_of_office: OutOfOfficeOut | None
    explanation: str


class ResyncOut(_Out):
    results: dict[str, str] = Field(description="connector -> done | pending | error: ...")


class AuditEntryOut(_Out):
    id: int
    at: datetime
    actor: str
    action: str
    outcome: str
    details: dict[str, Any]


class AuditOut(_Out):
    entries: list[AuditEntryOut]


# -- project room specs ----------------------------------------------------------------------
class RoomSpecIn(BaseModel):
    """A room spec as in a spec file (deploy/rooms.md); validated by the rooms feature."""

    model_config = ConfigDict(extra="allow")
    id: str = Field(description="room id: lower-case letters, digits and '-'")
    name: str
    owners: list[str] = Field(description="person ids or JIDs; at least one")


class RoomSpecOut(_Out):
    id: str
    owner: str = Field(description="file: edit the spec file; api: edit through this API")
    source: str = Field(description="the spec file's path, or admin-api")
    spec: dict[str, Any]


class RoomSpecsOut(_Out):
    rooms: list[RoomSpecOut]


class RoomPlanOut(_Out):
    changes: int = Field(description="changes a pass would make now (notes not counted)")
    lines: list[str] = Field(description="the plan as `samtek rooms plan` prints it")


class RoomRequestOut(_Out):
    id: str
    requester: str = Field(description="person id of the project leader who asked")
    state: str = Field(description="pending | approved | rejected")
    spec: dict[str, Any] = Field(description="the room spec that approval creates")
    created: str
    decided_by: str | None = None
    reason: str | None = None


class RoomRequestsOut(_Out):
    requests: list[RoomRequestOut]


class RejectIn(_In):
    reason: Text = Field(description="told to the requester in chat")
