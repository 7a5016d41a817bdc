"""`møte`/`meeting` books in the organiser's CalDAV calendar (a real Radicale).

Anna's calendar is on CalDAV (writable); Nils' is an iCal file (read-only).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest

from bridges.assistant.texts import Texts
from samtek.calendar import CalendarSource
from samtek.clock import Clock
from samtek.devserver.prosody import ProsodyServer
from samtek.model import TimeWindow
from tests.assistant.chat_client import ChatClient
from tests.assistant.region import ASKERS, OSLO, OTHERS, write_region
from tests.conftest import RunningService
from tests.servers.radicale import RadicaleServer

SERVICE_USER, SERVICE_PASSWORD = "samtek", "service-secret-1"


@pytest.fixture
async def radicale() -> AsyncIterator[RadicaleServer]:
    users = {"anna": "anna-secret-1", "john": "john-secret-1", SERVICE_USER: SERVICE_PASSWORD}
    async with RadicaleServer.running(users, service_user=SERVICE_USER) as server:
        yield server


def dav_section(server: RadicaleServer, secret: Path) -> str:
    return f"""
[connectors.dav]
type = "caldav"
url = "{server.url}/"
auth = {{ type = "basic", username = "{SERVICE_USER}", password = "file:{secret}" }}
sync_interval = 1
sync_jitter = 0
"""


@pytest.mark.clock_sensitive  # books on the next working day
async def test_meeting_is_booked_in_the_organisers_caldav_calendar(
    prosody: ProsodyServer,
    samtek_service: type[RunningService],
    radicale: RadicaleServer,
    tmp_path: Path,
    clock: Clock,
) -> None:
    for name in ASKERS + OTHERS:
        prosody.add_user(name, "pw")
    await prosody.start()
    calendar = await radicale.make_calendar("anna")
    john_calendar = await radicale.make_calendar("john")
    secret = tmp_path / "dav.secret"
    secret.write_text(SERVICE_PASSWORD)
    region = write_region(
        tmp_path,
        prosody,
        rate_burst=50,
        extra_config=dav_section(radicale, secret),
        calendars={"anna": ("dav", calendar), "john": ("dav", john_calendar)},
        clock=clock,
    )
    service = await samtek_service(region.config, clock).start()
    anna = ChatClient(prosody.jid("anna"), "pw", prosody.c2s_port, prosody.component_jid)
    nils = ChatClient(prosody.jid("nils"), "pw", prosody.c2s_port, prosody.component_jid)
    john = ChatClient(prosody.jid("john"), "pw", prosody.c2s_port, prosody.component_jid)
    for client in (anna, nils, john):
        await client.connect()
    try:
        day = region.day
        when = f"{day.day}.{day.month}.{day.year}"
        answer = await anna.ask(f"Møte kari nordmann og emma {when} kl 10.30 1,5 t: Budsjett 2027")
        pretty = Texts("nb", "Europe/Oslo").day(day)
        assert answer == (
            f"Booket «Budsjett 2027» {pretty} 10:30–12:00 med Kari Nordmann, Emma Hansen."
        )
        # The event is in Anna's CalDAV calendar, read back through the connector.
        source = service.connectors["dav"]
        assert isinstance(source, CalendarSource)
        start = datetime.combine(day, time(0), OSLO)
        events = await source.events(
            service.config.people["anna"], TimeWindow(start, start + timedelta(days=1))
        )
        assert [(e.subject, e.start, e.end) for e in events] == [
            ("Budsjett 2027", start + timedelta(hours=10.5), start + timedelta(hours=12))
        ]
        # Anna's free/busy now shows it, from CalDAV.
        free = await anna.ask(f"ledig anna {when}")
        assert "• 10:30–12:00 opptatt" in free.splitlines()
        # Missing time, a time in the past, and a read-only organiser.
        assert (await anna.ask("møte kari nordmann i morgen")).startswith("Når? ")
        assert await anna.ask("møte kari nordmann 1.1.2020 kl 10") == (
            "Det tidspunktet har allerede vært."
        )
        assert (await nils.ask(f"møte emma {when} kl 9")).startswith(
            "Kalenderen din er skriveverna for SAMTEK (cal_b)"
        )
        # John books on his own (London) clock: 14:00 London is 15:00 in Oslo.
        english = await john.ask(f"Meeting kari nordmann {day.isoformat()} at 14 45 min: Plan B")
        pretty_en = Texts("en", "Europe/London").day(day)
        assert english == f"Booked “Plan B” {pretty_en} 14:00–14:45 with Kari Nordmann."
        johns = await source.events(
            service.config.people["john"], TimeWindow(start, start + timedelta(days=1))
        )
        assert [(e.subject, e.start) for e in johns] == [("Plan B", start + timedelta(hours=15))]
    finally:
        for client in (anna, nils, john):
            await client.disconnect()
