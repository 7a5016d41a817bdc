"""Scripted mailbox state shared by the EWS and Graph fakes.

Tests add, move and cancel events and set automatic replies here; every change is appended
to a per-mailbox change log with a global sequence number, from which the EWS fake serves
subscription events (watermark = sequence) and the Graph fake serves delta queries.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime


@dataclass(frozen=True)
class FakeEvent:
    item_id: str
    uid: str
    subject: str
    start: datetime
    end: datetime
    all_day: bool = False
    # EWS LegacyFreeBusyStatus spelling: Free, Tentative, Busy, OOF, WorkingElsewhere
    busy: str = "Busy"
    sensitivity: str | None = "Normal"  # None: the server omits the element
    location: str | None = None
    online_meeting_url: str | None = None
    timezone: str = "W. Europe Standard Time"  # Windows zone id of the event
    recurrence_id: datetime | None = None  # set on occurrences of a series (same uid)
    change_key: str = "ck0"
    # EWS MyResponseType spelling: Organizer (own appointments and meetings), Accept,
    # Tentative, Decline, NoResponseReceived, Unknown.
    response: str = "Organizer"
    cancelled: bool = False  # a cancellation the attendee has not removed yet
    # Graph only: the responseStatus.response sent instead of the one derived from
    # `response` (Graph sends "none" for the organizer, as documented for responseStatus).
    graph_response: str | None = None
    # Graph only: the timeZone label of start/end (local times in Europe/Oslo) instead of
    # UTC, as when the Prefer header is not honoured: Windows names or custom labels.
    graph_zone: str | None = None
    # EWS only: the Periods etc. of a "Customized Time Zone" (default: Central European).
    ews_custom_zone: str | None = None
    # EWS only: the text of <t:Start> instead of the real start (a damaged item).
    ews_start_text: str | None = None


@dataclass
class FakeOof:
    state: str = "Disabled"  # Disabled | Enabled | Scheduled
    start: datetime | None = None
    end: datetime | None = None
    internal_reply: str = ""
    external_reply: str | None = None  # None: the same as internal_reply
    external_audience: str = "All"  # EWS spelling: None | Known | All
    # Graph only: the timeZone label of the scheduled times (Oslo wall-clock) instead of UTC;
    # mailboxSettings gives them in the zone they were set in, e.g. a Windows name.
    graph_zone: str | None = None


@dataclass(frozen=True)
class Change:
    seq: int
    kind: str  # created | modified | deleted
    item_id: str


@dataclass
class FakeMailbox:
    address: str
    events: dict[str, FakeEvent] = field(default_factory=dict)
    oof: FakeOof = field(default_factory=FakeOof)
    changes: list[Change] = field(default_factory=list)
    # Verbatim wire payloads served after the scripted events, for corpora written from
    # Microsoft's documented formats: EWS <t:CalendarItem> elements, Graph event objects.
    raw_ews: list[str] = field(default_factory=list)
    raw_graph: list[object] = field(default_factory=list)


@dataclass(frozen=True)
class CreatedMeeting:
    organiser: str
    subject: str
    start: datetime
    end: datetime
    attendees: tuple[str, ...]
    location: str | None
    send_invitations: str | None


class Mailboxes:
    """The scripted server-side state; all methods are synchronous and cheap."""

    def __init__(self) -> None:
        self.boxes: dict[str, FakeMailbox] = {}
        self.created: list[CreatedMeeting] = []
        self._seq = itertools.count(1)
        self.last_seq = 0
        # Called with (mailbox, change) after every change (the Graph fake's notifications).
        self.listeners: list[Callable[[str, Change], None]] = []

    def box(self, address: str) -> FakeMailbox:
        key = address.lower()
        if key not in self.boxes:
            self.boxes[key] = FakeMailbox(key)
        return self.boxes[key]

    def add_event(
        self, mailbox: str, subject: str, start: datetime, end: datetime, **extra: object
    ) -> FakeEvent:
        item_id = extra.pop("item_id", None) or f"AAMk{uuid.uuid4().hex}"
        uid = extra.pop("uid", None) or f"{uuid.uuid4()}"
        event = FakeEvent(str(item_id), str(uid), subject, start, end, **extra)  # type: ignore[arg-type]
        box = self.box(mailbox)
        box.events[event.item_id] = event
        self._log(box, "created", event.item_id)
        return event

    def move_event(self, mailbox: str, item_id: str, start: datetime, end: datetime) -> FakeEvent:
        box = self.box(mailbox)
        old = box.events[item_id]
        new = replace(old, start=start, end=end, change_key=f"ck{self.last_seq + 1}")
        box.events[item_id] = new
        self._log(box, "modified", item_id)
        return new

    def update_event(self, mailbox: str, item_id: str, **changes: object) -> FakeEvent:
        box = self.box(mailbox)
        new = replace(box.events[item_id], change_key=f"ck{self.last_seq + 1}", **changes)  # type: ignore[arg-type]
        box.events[item_id] = new
        self._log(box, "modified", item_id)
        return new

    def cancel_event(self, mailbox: str, item_id: str) -> None:
        box = self.box(mailbox)
        del box.events[item_id]
        self._log(box, "deleted", item_id)

    def set_oof(self, mailbox: str, oof: FakeOof) -> None:
        self.box(mailbox).oof = oof

    def changes_since(self, mailbox: str, seq: int) -> list[Change]:
        return [c for c in self.box(mailbox).changes if c.seq > seq]

    def _log(self, box: FakeMailbox, kind: str, item_id: str) -> None:
        self.last_seq = next(self._seq)
        change = Change(self.last_seq, kind, item_id)
        box.changes.append(change)
        for listener in self.listeners:
            listener(box.address, change)
