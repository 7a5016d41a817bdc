"""The search index (typos, diacritics, nynorsk/bokmål, numbers), the person row (privacy,
next free slot, out of office, phone) and the stream hub's bounded queues. Pure code: the
rows are computed from real claims built by the presence code's own functions."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bridges.assistant.slots import WorkingHours
from bridges.presence.phone import phone_claims
from bridges.switchboard.search import SearchIndex
from bridges.switchboard.stream import Hub, sse
from bridges.switchboard.view import person_row
from samtek.model import (
    BusyStatus,
    CalendarEvent,
    OutOfOffice,
    Person,
    PresenceClaim,
    Sensitivity,
)
from samtek.presence.claims import calendar_claims, oof_claims
from samtek.presence.resolver import Resolution, resolve
from samtek.telephony import DeviceState, DeviceStateUpdate

NAMES = {"kongsberg": "Kongsberg kommune", "notodden": "Notodden kommune"}
PEOPLE = [
    Person("kari", "kari@r.test", "Kari Nordmann", "kongsberg", email="kari.nordmann@k.test",
           department="Sjukeheimen", title="Sjukepleiar", phones=("+47 32 00 00 01",)),
    Person("ola", "ola@r.test", "Ola Hansen", "notodden", title="Saksbehandler byggesak",
           phones=("1002",)),
    Person("bjorn", "bjorn@r.test", "Bjørn Ødegård", "notodden", department="Hjemmetjenesten"),
    Person("kare", "kare@r.test", "Kåre Nordby", "kongsberg"),
]  # fmt: skip


def ids(query: str) -> list[str]:
    index = SearchIndex(PEOPLE, NAMES)
    return [hit.person.id for hit in index.search(query, 10)]


def test_search_forgives_typos_accents_and_nynorsk() -> None:
    assert ids("nordmnan") == ["kari"]  # two letters swapped
    assert ids("nordman") == ["kari"]  # a prefix
    assert ids("hnasen") == ["ola"]
    assert ids("hansem") == ["ola"]  # a wrong letter
    assert ids("odegard") == ids("ØDEGÅRD") == ["bjorn"]
    assert ids("kare") == ["kare", "kari"]  # the exact word first, then one typo away
    assert ids("sykehjem") == ["kari"]  # department in nynorsk, query in bokmål
    assert ids("sykepleier") == ["kari"]
    assert ids("sakshandsamar") == ["ola"]  # title in bokmål, query in nynorsk
    assert ids("heimetenesta") == ["bjorn"]
    assert ids("nord") == ["kare", "kari"]  # equal rank: alphabetical
    assert ids("nord kongsberg kommune") == ["kare", "kari"]


def test_search_by_number_email_and_nothing_for_nonsense() -> None:
    assert ids("3200") == ["kari"]
    assert ids("+47 32 00 00 01") == ["kari"]
    assert ids("1002") == ["ola"]
    assert ids("kari.nordmann@k.test") == ["kari"]
    assert ids("zzzz") == []
    assert ids("") == []


NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)  # 10:00 in Oslo, a Tuesday
HOURS = WorkingHours()


class Claims:
    """The presence bridge's read side over a fixed set of claims."""

    def __init__(self, claims: list[PresenceClaim], oof: OutOfOffice | None = None) -> None:
        self._claims, self._oof = claims, oof

    def explain(self, person_id: str, at: datetime | None = None) -> Resolution | None:
        return resolve(self._claims, at or NOW)

    def claims(self, person_id: str) -> list[PresenceClaim]:
        return self._claims

    def out_of_office(self, person_id: str) -> OutOfOffice | None:
        return self._oof


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def meeting(start_h: float, end_h: float, subject: str, **kw: object) -> CalendarEvent:
    return CalendarEvent(
        uid=subject, start=NOW + timedelta(hours=start_h), end=NOW + timedelta(hours=end_h),
        busy=BusyStatus.BUSY, subject=subject, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def test_row_shows_subjects_only_where_opted_in_and_never_private_ones() -> None:
    events = [
        meeting(-0.5, 1, "Budsjett"),
        meeting(1, 2, "Legetime", sensitivity=Sensitivity.PRIVATE),
    ]
    presence = Claims(calendar_claims("ola", events))
    opted_in = Person("ola", "ola@r.test", "Ola", "notodden", show_subject=True)
    row = person_row(opted_in, presence, NOW, NAMES, HOURS)
    assert (row["state"], row["text"]) == ("meeting", "I møte: Budsjett (til 12:00)")
    later = person_row(opted_in, presence, NOW + timedelta(hours=1, minutes=5), NAMES, HOURS)
    assert later["text"] == "I møte til 12:00" and "Legetime" not in str(later)
    not_opted = person_row(PEOPLE[1], presence, NOW, NAMES, HOURS)
    assert not_opted["text"] == "I møte til 12:00" and "Budsjett" not in str(not_opted)
    # Next free slot today: after both meetings (12:00 Oslo) until the working day ends.
    assert at(row["free"]["from"]) == NOW + timedelta(hours=2)
    assert at(row["free"]["to"]) == datetime(2026, 3, 10, 15, 0, tzinfo=UTC)  # 16:00 Oslo
    assert row["municipality"] == "Notodden kommune"


def test_row_shows_out_of_office_return_and_note_and_phone_state() -> None:
    oof = OutOfOffice(True, NOW - timedelta(days=1), NOW + timedelta(days=2),
                      "<p>Tilbake torsdag.<br>Kontakt <b>Per</b> ved behov.</p>")  # fmt: skip
    ringing = DeviceStateUpdate("pbx", "1002", DeviceState.IN_USE, NOW - timedelta(minutes=1))
    claims = oof_claims("ola", oof) + phone_claims("ola", ringing)
    row = person_row(PEOPLE[1], Claims(claims, oof), NOW, NAMES, HOURS)
    assert (row["state"], row["text"], row["phone"]) == ("phone", "På telefonen", "in_call")
    assert at(row["oof"]["back"]) == NOW + timedelta(days=2)
    assert row["oof"]["note"] == "Tilbake torsdag. Kontakt Per ved behov."
    assert row["free"] is None  # out of office all day: no free slot today
    free = person_row(PEOPLE[0], Claims([]), NOW, NAMES, HOURS)
    assert (free["state"], free["text"], free["phone"], free["oof"]) == (
        "free",
        "Ledig",
        None,
        None,
    )
    assert free["free"]["from"] is None  # free now
    assert at(free["free"]["to"]) == datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


async def test_a_slow_page_is_dropped_not_buffered() -> None:
    hub = Hub(queue_size=4, max_clients=2)
    slow, fast = hub.connect("a", None), hub.connect("b", None)
    assert slow is not None and fast is not None and hub.connect("c", None) is None
    for n in range(4):
        hub.broadcast(sse("rows", [n]))
        await fast.queue.get()  # the fast page keeps up
    hub.broadcast(sse("rows", [4]))  # the slow page's queue is full: it is dropped
    assert slow.closed.is_set() and not fast.closed.is_set() and hub.dropped == 1
    assert len(hub) == 1 and slow.queue.qsize() == 4
    assert await asyncio.wait_for(fast.queue.get(), 1) == b"event: rows\ndata: [4]\n\n"
