"""The rooms daemon inside the running service: reminders exactly once (also across a
restart), the ICS feed, and a spec change applied without waiting for the interval."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from icalendar import Calendar

from samtek.app import Service
from samtek.clock import Clock
from samtek.devserver.prosody import ProsodyServer
from tests.conftest import RunningService
from tests.e2e.regions import ics_meeting, next_whole_second, write_config, write_ics
from tests.rooms.helpers import PASSWORD, WAIT, Person, rooms_prosody

SPEC = """
id = "vei"
name = "Veiprosjekt"
owners = ["kari"]
members = ["ola"]
calendar = {{ source = "feeds", address = "{feed}" }}
dialin = {{ number = "+47 22 00 00 00", pin = "4711" }}
"""
ROOMS = """
[rooms]
spec_dir = "specs"
interval_seconds = 300
reminder_minutes = 0.05
jitsi_base_url = "https://meet.example.no"
"""


async def passes(service: Service, count: int) -> None:
    async def wait() -> None:
        while service.rooms is None or service.rooms.passes < count:
            await asyncio.sleep(0.02)

    await asyncio.wait_for(wait(), WAIT)


def reminders(person: Person, room: str) -> list[str]:
    return [
        m["body"]
        for m in person.messages
        if m["type"] == "groupchat" and m["from"].bare == room and "Påminnelse" in m["body"]
    ]


@pytest.mark.clock_sensitive
async def test_reminder_once_across_restart_feed_and_spec_change(
    samtek_service: type[RunningService], tmp_path: Path, clock: Clock
) -> None:
    prosody = rooms_prosody()
    for user in ("kari", "ola", "lise"):
        prosody.add_user(user, PASSWORD)
    async with contextlib.AsyncExitStack() as stack:
        await prosody.start()
        stack.push_async_callback(prosody_done, prosody)
        room = f"vei@{prosody.muc_domain}"
        start = next_whole_second(8, clock)  # reminder 3 s before: after the service is up
        feed = tmp_path / "vei.ics"
        write_ics(feed, ics_meeting("m1", start, start + timedelta(minutes=30)))
        for user in ("kari", "ola", "lise"):
            write_ics(tmp_path / f"{user}.ics")
        config = write_config(
            tmp_path, prosody, {u: tmp_path / f"{u}.ics" for u in ("kari", "ola", "lise")}
        )
        config.write_text(config.read_text() + ROOMS)
        (tmp_path / "specs").mkdir()
        spec_file = tmp_path / "specs" / "vei.toml"
        spec_file.write_text(SPEC.format(feed=feed))

        running = samtek_service(config, clock)
        service = await running.start()
        stack.push_async_callback(running.stop)  # before Prosody stops
        await passes(service, 1)
        ola = Person(prosody.jid("ola"), prosody.c2s_port)
        kari = Person(prosody.jid("kari"), prosody.c2s_port)
        await ola.connect()
        await kari.connect()
        ola.join(room, "ola")

        await ola.wait_message(lambda m: bool(reminders(ola, room)), "reminder")
        body = reminders(ola, room)[0]
        assert "Prosjektmøte" in body
        assert "https://meet.example.no/vei" in body
        assert "+47 22 00 00 00, PIN 4711" in body

        # ICS feed at the unguessable URL; a wrong token is not found
        assert service.rooms is not None
        path = service.rooms.feed_url("vei")
        assert path is not None
        async with aiohttp.ClientSession() as http:
            base = f"http://127.0.0.1:{service.web.port}"
            async with http.get(base + path) as response:
                assert response.status == 200
                assert response.content_type == "text/calendar"
                calendar = Calendar.from_ical(await response.read())
            async with http.get(f"{base}/rooms/feed/{'0' * 32}.ics") as response:
                assert response.status == 404
        events = list(calendar.walk("VEVENT"))
        assert len(events) == 1
        assert events[0].decoded("dtstart") == start
        description = str(events[0]["description"])
        assert "https://meet.example.no/vei" in description
        assert "PIN 4711" in description

        # restart before the meeting starts: the reminder is not posted again
        await running.stop()
        service = await running.start()
        await passes(service, 1)
        delay = (start - clock.now()).total_seconds() + 0.5
        await asyncio.sleep(max(delay, 0))  # past the meeting's start: every timer has run
        assert len(reminders(ola, room)) == 1

        # a spec change is applied at once (watched directory), not after the interval
        spec_file.write_text(SPEC.format(feed=feed).replace('["ola"]', '["ola", "lise"]'))
        for _ in range(int(WAIT / 0.1)):
            if prosody.jid("lise") in await kari.affiliations(room):
                break
            await asyncio.sleep(0.1)
        assert (await kari.affiliations(room))[prosody.jid("lise")] == "member"
        await ola.disconnect()
        await kari.disconnect()


async def prosody_done(prosody: ProsodyServer) -> None:
    await prosody.stop()
    prosody.cleanup()
