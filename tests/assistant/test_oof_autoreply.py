"""Out-of-office auto-replies through a real Prosody with mod_samtek_oof.

The OOF state is published on the service's bus as an out-of-office connector (EWS, Graph)
would publish it. Kari opted in to auto-replies, Per did not.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from samtek.clock import Clock
from samtek.devserver.prosody import ProsodyServer
from samtek.events import OutOfOfficeUpdate
from samtek.model import OutOfOffice
from tests.assistant.chat_client import ChatClient
from tests.assistant.region import ASKERS, OSLO, OTHERS, write_region
from tests.conftest import RunningService
from tests.instants import day_nb

TEXT = "Jeg er på ferie. Kontakt Per Ås."


@pytest.fixture
async def oof_prosody() -> AsyncIterator[ProsodyServer]:
    server = ProsodyServer(oof=True)
    try:
        yield server
    finally:
        await server.stop()
        server.cleanup()


@pytest.mark.clock_sensitive  # "per day"; the OOF list's `until` crosses to Prosody's clock
async def test_one_autoreply_per_sender_and_day_in_the_senders_language(
    oof_prosody: ProsodyServer,
    samtek_service: type[RunningService],
    tmp_path: Path,
    clock: Clock,
) -> None:
    prosody = oof_prosody
    for name in ASKERS + OTHERS:
        prosody.add_user(name, "pw")
    await prosody.start()
    region = write_region(tmp_path, prosody, kari_extra="oof_autoreply = true", clock=clock)
    service = await samtek_service(region.config, clock).start()
    now = clock.now()
    end = now + timedelta(days=3)
    away = OutOfOffice(True, now - timedelta(hours=1), end, TEXT)
    await service.bus.publish(OutOfOfficeUpdate("exchange", "kari", away))
    await service.bus.publish(OutOfOfficeUpdate("exchange", "per", away))  # not opted in

    def client(name: str) -> ChatClient:
        return ChatClient(prosody.jid(name), "pw", prosody.c2s_port, prosody.component_jid)

    anna, john, kari = client("anna"), client("john"), client("kari")
    for c in (anna, john, kari):
        await c.connect()
    try:
        # Until the component has told the server whom to watch, no reply comes: retry.
        async with asyncio.timeout(15):
            while anna.inbox.empty():
                anna.say("Hei Kari, har du tid i dag?", to=prosody.jid("kari"))
                await asyncio.sleep(0.2)
        first_day = clock.now().astimezone(OSLO).date()  # Kari's day, for "once a day"
        reply = await anna.next_reply()
        until = day_nb(end.astimezone(OSLO).date())  # out of office names the day it ends
        assert reply == f"Automatisk svar: Kari Nordmann er fraværende til {until}. {TEXT}"
        # The message itself still reached Kari.
        assert (await kari.next_reply(sender=prosody.jid("anna"))).startswith("Hei Kari")

        john.say("Hi Kari", to=prosody.jid("kari"))
        english = await john.next_reply()
        assert english.startswith("Automatic reply: Kari Nordmann is out of office until ")
        assert english.endswith(TEXT)

        for _ in range(3):  # the same sender the same day: no second auto-reply
            anna.say("Hallo igjen?", to=prosody.jid("kari"))
            john.say("Hello again?", to=prosody.jid("kari"))
        anna.say("Hei Per", to=prosody.jid("per"))  # Per did not opt in
        # The assistant still answers commands; its answer comes after any auto-reply would.
        assert (await anna.ask("hjelp")).startswith("Dette kan jeg")
        await asyncio.sleep(1.0)
        if clock.now().astimezone(OSLO).date() == first_day:
            assert anna.inbox.empty() and john.inbox.empty()
        else:  # midnight passed in Kari's zone meanwhile: a new day, one new reply each at most
            for c in (anna, john):
                extra = [c.inbox.get_nowait() for _ in range(c.inbox.qsize())]
                assert len(extra) <= 1 and all(body.endswith(TEXT) for _, body, _ in extra)
    finally:
        for c in (anna, john, kari):
            await c.disconnect()
