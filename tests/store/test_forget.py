"""Forgetting a person deletes exactly their rows, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from samtek.events import CalendarUpdate
from samtek.model import CalendarEvent, CalendarRef, TimeWindow
from samtek.store import open_store
from samtek.store.store import Dismissal

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


async def test_forget_people_deletes_only_their_rows(store_url: str) -> None:
    window = TimeWindow(NOW, NOW + timedelta(days=1))
    event = CalendarEvent("m1", NOW, NOW + timedelta(hours=1))
    async with open_store(store_url) as store:
        for pid in ("per", "kari"):
            await store.save_calendar(CalendarUpdate("kb_ews", pid, window, (event,)))
            await store.put_dismissal(Dismissal(pid, "t", NOW + timedelta(days=1)))
        await store.put_state("ews:kb_ews", "per@kb.test", "sub-per")
        await store.put_state("ews:kbXews", "per@kb.test", "other connector: kept")
        await store.put_state("ews:kb_ews", "kari@kb.test", "sub-kari")
        await store.put_state("rooms", "per@kb.test", "not a calendar namespace: kept")

        deleted = await store.forget_people(["per"], [CalendarRef("kb_ews", "Per@KB.test")])

        assert deleted == 3
        assert [u.person_id for u in await store.load_calendars()] == ["kari"]
        assert set(await store.load_dismissals(NOW)) == {"kari"}
        assert await store.get_state("ews:kb_ews", "per@kb.test") is None
        assert await store.get_state("ews:kbXews", "per@kb.test") == "other connector: kept"
        assert await store.get_state("ews:kb_ews", "kari@kb.test") == "sub-kari"
        assert await store.get_state("rooms", "per@kb.test") is not None
        assert await store.people_with_rows() == {"kari"}
