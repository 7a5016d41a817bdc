"""EWS calendar data as Exchange really sends it (issue 14, items 1 and 8): the owner's reply
and cancellations, all-day items in a custom zone, and one bad item costing only itself.

Payloads follow the EWS schema (CalendarItemType: IsCancelled, MyResponseType,
AppointmentState as PidLidAppointmentStateFlags; StartTimeZone as a TimeZoneDefinitionType
with Periods/TransitionsGroups/Transitions for "Customized Time Zone"). All instants are fixed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from connectors.ews import EwsConnector
from samtek.clock import FixedClock
from samtek.events import CalendarUpdate
from samtek.model import BusyStatus, TimeWindow
from samtek.store import Store
from tests.exchange.conftest import person, running, wait_for
from tests.exchange.test_ews import ALICE, NAME, connector
from tests.fakes.ews.server import FakeEws
from tests.fakes.ews.xml import NEW_ZEALAND

OSLO = ZoneInfo("Europe/Oslo")
# Thursday 3 December 2026, 09:00 in Oslo (08:00 UTC).
T0 = datetime(2026, 12, 3, 9, 0, tzinfo=OSLO)
WINDOW = TimeWindow(T0 - timedelta(days=1), T0 + timedelta(days=7))


def at(hour: int, day: int = 3) -> datetime:
    return datetime(2026, 12, day, hour, 0, tzinfo=OSLO)


def fixed(conn: EwsConnector) -> EwsConnector:
    conn.clock = FixedClock(T0)
    return conn


async def test_reply_and_cancellation_decide_busy(ews: FakeEws, store: Store) -> None:
    add = ews.state.add_event
    # Exchange keeps a cancelled meeting in the attendee's calendar until removed, with
    # "Canceled: " before the subject and the busy status it had.
    add(ALICE, "Canceled: Budsjett", at(9), at(10), response="Accept", cancelled=True)
    add(ALICE, "Styremøte", at(10), at(11), response="Decline")
    add(ALICE, "Ubesvart", at(11), at(12), response="NoResponseReceived")
    add(ALICE, "Kanskje", at(12), at(13), response="Tentative")
    add(ALICE, "Eget møte", at(13), at(14), response="Organizer")
    add(ALICE, "Godtatt", at(14), at(15), response="Accept")
    add(ALICE, "Ukjent", at(15), at(16), response="Unknown")
    add(ALICE, "Ubesvart, ledig", at(16), at(17), response="NoResponseReceived", busy="Free")
    conn = fixed(connector(ews, store))
    events = await conn.events(person("alice", NAME), WINDOW)
    assert [(e.subject, e.busy) for e in events] == [
        ("Ubesvart", BusyStatus.TENTATIVE),  # unanswered: tentative, as Outlook shows it
        ("Kanskje", BusyStatus.TENTATIVE),
        ("Eget møte", BusyStatus.BUSY),
        ("Godtatt", BusyStatus.BUSY),
        ("Ukjent", BusyStatus.BUSY),  # no known reply: the event's own status
        ("Ubesvart, ledig", BusyStatus.FREE),
    ]
    assert ews.count("FindItem") == 1 and ews.count("GetItem") == 0  # still one round trip


@pytest.fixture
def host_in_los_angeles() -> Iterator[None]:
    """The host SAMTEK runs on is in another zone than the mailbox (a cloud VM, a container
    left in its default zone): dates must not depend on it."""
    import os

    old = os.environ.get("TZ")
    os.environ["TZ"] = "America/Los_Angeles"
    time.tzset()
    try:
        yield
    finally:
        if old is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = old
        time.tzset()


@pytest.mark.usefixtures("host_in_los_angeles")
async def test_all_day_item_in_a_customized_time_zone(ews: FakeEws, store: Store) -> None:
    # Friday 4 December all day, created in a zone Exchange sends as a custom definition:
    # stored as Oslo midnight to midnight (3 Dec 23:00Z to 4 Dec 23:00Z).
    friday = datetime(2026, 12, 4, tzinfo=OSLO)
    ews.state.add_event(
        ALICE,
        "Kurs",
        friday,
        friday + timedelta(days=1),
        all_day=True,
        busy="WorkingElsewhere",
        timezone="Customized Time Zone",
    )
    conn = fixed(connector(ews, store))
    [event] = await conn.events(person("alice", NAME), WINDOW)
    assert event.all_day and event.busy is BusyStatus.ELSEWHERE
    assert (event.start, event.end) == (friday, friday + timedelta(days=1))


@pytest.mark.usefixtures("host_in_los_angeles")
async def test_all_day_item_dated_by_its_own_custom_definition(ews: FakeEws, store: Store) -> None:
    # Made in New Zealand (NZDT, UTC+13 in December) as a custom definition: stored as
    # 3 Dec 11:00Z to 4 Dec 11:00Z. In Oslo's zone that would start on Thursday; the
    # definition says the item is Friday 4 December, which the Oslo mailbox shows as Friday.
    nz = ZoneInfo("Pacific/Auckland")
    ews.state.add_event(
        ALICE,
        "Frist",
        datetime(2026, 12, 4, tzinfo=nz),
        datetime(2026, 12, 5, tzinfo=nz),
        all_day=True,
        busy="OOF",
        timezone="Customized Time Zone",
        ews_custom_zone=NEW_ZEALAND,
    )
    conn = fixed(connector(ews, store))
    [event] = await conn.events(person("alice", NAME), WINDOW)
    friday = datetime(2026, 12, 4, tzinfo=OSLO)
    assert (event.start, event.end) == (friday, friday + timedelta(days=1))


async def test_one_bad_item_is_refused_and_reported(ews: FakeEws, store: Store) -> None:
    ews.state.add_event(ALICE, "Før", at(9), at(10))
    bad = ews.state.add_event(ALICE, "Skadet", at(11), at(12), ews_start_text="2026-13-45T25:00")
    ews.state.add_event(ALICE, "Etter", at(13), at(14))
    ews.state.add_event(ALICE, "Canceled: Borte", at(15), at(16), cancelled=True)
    conn = fixed(connector(ews, store, ("alice",)))
    updates = conn.ctx.bus.subscribe(CalendarUpdate)
    async with running(conn):
        update = await wait_for(updates, lambda u: u.person_id == "alice")
    assert [e.subject for e in update.events] == ["Før", "Etter"]
    health = conn.ctx.health.snapshot()
    counts = health.item_counts[ALICE]
    assert counts.published == 2
    assert counts.refused == 1 and counts.reasons[0].startswith(f"{bad.item_id}: ")
    assert "Start" in counts.reasons[0]
    assert "Skadet" not in counts.reasons[0]  # reasons never carry the subject
    assert health.item_errors == {}
