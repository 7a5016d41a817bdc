"""The `chat` fixture: a region on a real Prosody, the service, and the askers' clients.

anna (nb, Europe/Oslo), nils (nn) and john (en, Europe/London) use ordinary slixmpp clients
and chat with the component's JID; `stranger` has an account but is not in the directory.
The service runs on the `clock` fixture's clock (shifted in the clock-sensitive runs).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from samtek.app import Service
from samtek.clock import Clock
from samtek.devserver.prosody import ProsodyServer
from tests.assistant.chat_client import ChatClient
from tests.assistant.region import ASKERS, OTHERS, Region, write_region
from tests.conftest import RunningService


@dataclass
class Chat:
    service: Service
    region: Region
    clients: dict[str, ChatClient]
    clock: Clock

    def __getattr__(self, name: str) -> ChatClient:
        return self.clients[name]


@pytest.fixture
async def chat(
    request: pytest.FixtureRequest,
    prosody: ProsodyServer,
    samtek_service: type[RunningService],
    tmp_path: Path,
    clock: Clock,
) -> AsyncIterator[Chat]:
    for name in ASKERS + OTHERS:
        prosody.add_user(name, "pw")
    await prosody.start()
    # Conversations send many commands quickly: a large burst unless a test asks otherwise.
    region = write_region(tmp_path, prosody, rate_burst=getattr(request, "param", 100), clock=clock)
    service = await samtek_service(region.config, clock).start()
    clients = {
        name: ChatClient(prosody.jid(name), "pw", prosody.c2s_port, prosody.component_jid)
        for name in ASKERS
    }
    try:
        for client in clients.values():
            await client.connect()
        # The current meetings reach the presence bridge from the iCal files (hang guard).
        async with asyncio.timeout(20):
            while service.presence is None or service.presence.explain("per") is None:
                await asyncio.sleep(0.05)
        yield Chat(service, region, clients, clock)
    finally:
        for client in clients.values():
            await client.disconnect()
