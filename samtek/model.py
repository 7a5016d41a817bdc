"""The domain vocabulary shared by the core, connectors and bridges.

Plain frozen dataclasses: no I/O, no framework. Datetimes are always timezone-aware;
constructors refuse naive ones so a floating time can never slip through silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import IntEnum, StrEnum
from types import MappingProxyType


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")


class BusyStatus(StrEnum):
    """How an event blocks time (iCalendar TRANSP/X-MICROSOFT-CDO-BUSYSTATUS, EWS FreeBusy)."""

    FREE = "free"
    TENTATIVE = "tentative"
    BUSY = "busy"
    OOF = "oof"
    ELSEWHERE = "elsewhere"


class Participation(StrEnum):
    """The person's own reply to a meeting (iCalendar PARTSTAT, EWS MyResponseType,
    Graph responseStatus). ORGANIZER and ACCEPTED keep the event's busy status."""

    ORGANIZER = "organizer"
    ACCEPTED = "accepted"
    TENTATIVE = "tentative"
    NEEDS_ACTION = "needs-action"  # not answered yet: shown as tentative, as Outlook does
    DECLINED = "declined"
    DELEGATED = "delegated"


def busy_after_reply(busy: BusyStatus, reply: Participation | None) -> BusyStatus | None:
    """How the person's reply changes an event's busy status; None: the event is not theirs
    to attend (declined or delegated) and gives no presence at all."""
    if reply in (Participation.DECLINED, Participation.DELEGATED):
        return None
    if reply in (Participation.NEEDS_ACTION, Participation.TENTATIVE) and busy is BusyStatus.BUSY:
        return BusyStatus.TENTATIVE
    return busy


class Sensitivity(StrEnum):
    NORMAL = "normal"
    PRIVATE = "private"
    CONFIDENTIAL = "confidential"

    @property
    def hides_details(self) -> bool:
        return self is not Sensitivity.NORMAL


class Show(StrEnum):
    """XMPP <show/> values (RFC 6121 §4.7.2.1); AVAILABLE means no <show/> element."""

    AVAILABLE = "available"
    CHAT = "chat"
    AWAY = "away"
    XA = "xa"
    DND = "dnd"


@dataclass(frozen=True, slots=True)
class TimeWindow:
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        _require_aware("start", self.start)
        _require_aware("end", self.end)
        if self.end <= self.start:
            raise ValueError("window end must be after its start")

    @classmethod
    def around(cls, now: datetime, back: timedelta, ahead: timedelta) -> TimeWindow:
        return cls(now - back, now + ahead)

    def overlaps(self, start: datetime, end: datetime) -> bool:
        return start < self.end and end > self.start


@dataclass(frozen=True, slots=True)
class CalendarRef:
    """Where one person's calendar lives: which connector instance and its address there.

    The address is connector-specific: an ICS URL or path, a CalDAV collection URL,
    a mailbox SMTP address for EWS/Graph.
    """

    source: str
    address: str


def calendar_address(address: str) -> str:
    """`webcal://` and `webcals://` are informal names for an https feed: fetch it as one."""
    address = address.strip()
    scheme, sep, rest = address.partition("://")
    if sep and scheme.lower() in ("webcal", "webcals"):
        return f"https://{rest}"
    return address


@dataclass(frozen=True, slots=True)
class Person:
    id: str
    jid: str
    name: str
    municipality: str
    language: str = "nb"
    timezone: str = "Europe/Oslo"
    email: str | None = None
    aliases: tuple[str, ...] = ()  # other addresses (directory aliases, urn:uuid:...)
    calendars: tuple[CalendarRef, ...] = ()
    phones: tuple[str, ...] = ()
    show_subject: bool = False  # opt-in; private/confidential events never show it
    oof_autoreply: bool = False
    department: str | None = None  # shown and searched by the switchboard console
    title: str | None = None


@dataclass(frozen=True, slots=True)
class CalendarEvent:
    uid: str
    start: datetime
    end: datetime
    busy: BusyStatus = BusyStatus.BUSY
    sensitivity: Sensitivity = Sensitivity.NORMAL
    all_day: bool = False
    subject: str | None = None
    location: str | None = None
    online_meeting_url: str | None = None
    recurrence_id: datetime | None = None

    def __post_init__(self) -> None:
        _require_aware("start", self.start)
        _require_aware("end", self.end)
        if self.end < self.start:
            raise ValueError(f"event {self.uid!r} ends before it starts")
        if self.sensitivity.hides_details:
            # Private details never enter SAMTEK: not kept in memory, stored, logged or shown.
            # Dropping them here, where every connector builds its events, is the one place.
            object.__setattr__(self, "subject", None)
            object.__setattr__(self, "location", None)
            object.__setattr__(self, "online_meeting_url", None)

    @property
    def key(self) -> str:
        """Stable identity of one occurrence (a recurring series has many)."""
        rid = self.recurrence_id or self.start
        return f"{self.uid}@{rid.isoformat()}"


@dataclass(frozen=True, slots=True)
class BusyBlock:
    """A free/busy interval without details (what free/busy APIs return)."""

    start: datetime
    end: datetime
    busy: BusyStatus


class ExternalAudience(StrEnum):
    """Who outside the organisation gets the external automatic reply."""

    NONE = "none"
    KNOWN = "known"  # the mailbox's contacts (here: people in the recipient's roster)
    ALL = "all"


@dataclass(frozen=True, slots=True)
class OutOfOffice:
    """A mailbox's automatic-replies setting.

    `message` is the internal text (for people in the directory); `external_message` goes
    to others only as `external_audience` allows (EWS ExternalAudience, Graph externalAudience).
    """

    enabled: bool
    start: datetime | None = None
    end: datetime | None = None
    message: str | None = None
    external_message: str | None = None
    external_audience: ExternalAudience = ExternalAudience.NONE


class ClaimSource(StrEnum):
    CALENDAR = "calendar"
    PHONE = "phone"
    OOF = "oof"
    MANUAL = "manual"
    TEAMS = "teams"  # Microsoft Teams presence (connectors/graph/teams.py)


class ClaimKind(IntEnum):
    """What a claim says, ordered by precedence: a higher value wins.

    The full table and the reasoning behind it is in docs/presence.md.
    """

    WORKING_ELSEWHERE = 10
    OUT_OF_OFFICE = 20
    TENTATIVE = 30
    IN_MEETING = 40
    PRESENTING = 50
    PHONE_RINGING = 60
    ON_PHONE = 70
    PHONE_DND = 80


@dataclass(frozen=True, slots=True)
class StatusText:
    """A message-catalogue key and its parameters; rendered per person's language."""

    key: str
    params: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class PresenceClaim:
    """One source's statement about a person's presence during [valid_from, valid_until)."""

    person_id: str
    source: ClaimSource
    kind: ClaimKind
    show: Show
    valid_from: datetime
    valid_until: datetime
    claim_id: str  # stable per source: e.g. the event occurrence key, the call id
    subject: str | None = None  # only ever shown if the person opted in and it is not private

    def __post_init__(self) -> None:
        _require_aware("valid_from", self.valid_from)
        _require_aware("valid_until", self.valid_until)

    def active_at(self, when: datetime) -> bool:
        return self.valid_from <= when < self.valid_until
