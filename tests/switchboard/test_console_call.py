"""Click-to-call from the console through the SIP connector, against a real Kamailio with two
baresip phones: the operator's phone (1001) rings first, then Ola's (1002); the page's stream
says the call was set up and shows Ola on the phone (transfer: test_console_transfer.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bridges.switchboard.routes import CSRF_HEADER
from samtek.devserver.prosody import ProsodyServer
from tests.assistant.test_call import sip_section
from tests.directory.seed import person_dn
from tests.servers.sip import SipPeer
from tests.switchboard.conftest import OPERATOR, OPERATOR_PASSWORD, Console, start_console


def phone(dn: str, number: str) -> str:
    return f"dn: {dn}\nchangetype: modify\nreplace: telephoneNumber\ntelephoneNumber: {number}\n"


@pytest.fixture
async def console_with_pbx(
    prosody: ProsodyServer, tmp_path: Path
) -> AsyncIterator[tuple[Console, SipPeer]]:
    peer = SipPeer(users={"a": "1001", "b": "1002"})
    try:
        await peer.start()
        changes = (phone(person_dn(OPERATOR, "kongsberg"), "1001"),
                   phone(person_dn("ola", "notodden"), "1002"))  # fmt: skip
        pbx = sip_section(peer) + "directory_poll = 0.5\n"  # the people come from LDAP
        async with start_console(prosody, tmp_path, pbx, changes) as console:
            yield console, peer
    finally:
        await peer.stop()


async def events(stream: aiohttp.ClientResponse) -> AsyncIterator[tuple[str, object]]:
    while True:
        message = await asyncio.wait_for(stream.content.readuntil(b"\n\n"), 30)
        lines = dict(line.split(": ", 1) for line in message.decode().strip().split("\n"))
        if "event" in lines:
            yield lines["event"], json.loads(lines["data"])


async def test_ring_from_the_console_rings_the_operator_then_the_person(
    console_with_pbx: tuple[Console, SipPeer],
) -> None:
    console, peer = console_with_pbx
    a, b = peer.uas["a"], peer.uas["b"]
    api = f"{console.base}api"
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        login = {"username": OPERATOR, "password": OPERATOR_PASSWORD}
        async with http.post(f"{api}/login", json=login, headers={"Origin": console.origin}) as r:
            me = await r.json()
            assert (r.status, me["extension"]) == (200, "1001")
        async with http.get(f"{api}/stream") as stream:
            seen = events(stream)
            assert (await anext(seen))[0] == "hello"
            headers = {"Origin": console.origin, CSRF_HEADER: me["csrf"]}
            async with http.post(f"{api}/call", json={"person": "ola"}, headers=headers) as r:
                assert (r.status, await r.json()) == (202, {"status": "calling", "from": "1001"})
            await a.wait_event("CALL_INCOMING")
            await a.accept()
            incoming = await b.wait_event("CALL_INCOMING")
            assert "1001" in incoming["peeruri"]  # Ola sees the operator calling
            await b.accept()
            call_done = ola_on_phone = False
            async for event, data in seen:
                if event == "call":
                    assert data == {"person": "ola", "status": "connected"}
                    call_done = True
                elif event == "rows":
                    assert isinstance(data, list)
                    ola_on_phone |= any(
                        row["id"] == "ola" and row["phone"] == "in_call" for row in data
                    )
                if call_done and ola_on_phone:
                    break
            await b.hangup()
    assert console.service.switchboard is not None
    entries = await console.service.switchboard.audit.query(actor=f"switchboard:{OPERATOR}")
    calls = [
        (e.outcome, e.details.get("to")) for e in reversed(entries) if e.action.endswith("call")
    ]
    assert calls == [("calling", "1002"), ("connected", "1002")]
