"""Transfer from the console through the SIP connector, against a real Kamailio with three
baresip phones: a caller (1003) speaks to the operator (1001); the operator finds Ola (1002)
and transfers the call; Ola's phone rings with the caller on it, and after Ola answers the
caller and Ola are in one call and the operator's phone is free again. Once over the HTTP
API, once in a real headless Chromium with the keyboard ("t")."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bridges.switchboard.routes import CSRF_HEADER
from connectors.sip.connector import SipConnector
from samtek.devserver.prosody import ProsodyServer
from tests.assistant.test_call import sip_section
from tests.directory.seed import person_dn
from tests.servers.sip import BaresipUA, SipPeer
from tests.switchboard.browser import Browser
from tests.switchboard.conftest import OPERATOR, OPERATOR_PASSWORD, Console, start_console
from tests.switchboard.test_console_call import events, phone
from tests.telephony.conftest import eventually


@pytest.fixture
async def console_with_phones(
    prosody: ProsodyServer, tmp_path: Path
) -> AsyncIterator[tuple[Console, SipPeer]]:
    peer = SipPeer(users={"operator": "1001", "ola": "1002", "caller": "1003"})
    try:
        await peer.start()
        changes = (phone(person_dn(OPERATOR, "kongsberg"), "1001"),
                   phone(person_dn("ola", "notodden"), "1002"))  # fmt: skip
        pbx = sip_section(peer) + "directory_poll = 0.5\n"
        async with start_console(prosody, tmp_path, pbx, changes) as console:
            yield console, peer
    finally:
        await peer.stop()


async def audit(console: Console) -> list[tuple[str, object, object]]:
    """The operator's transfers: (outcome, target, reason for admins), oldest first."""
    assert console.service.switchboard is not None
    entries = await console.service.switchboard.audit.query(actor=f"switchboard:{OPERATOR}")
    return [
        (e.outcome, e.details.get("to"), e.details.get("reason"))
        for e in reversed(entries)
        if e.action == "switchboard.transfer"
    ]


async def established_with(ua: BaresipUA, extension: str) -> dict[str, Any]:
    while True:
        event = await ua.wait_event("CALL_ESTABLISHED")
        if f"sip:{extension}@" in str(event.get("peeruri")):
            return event


async def test_transfer_from_the_console_connects_the_caller_to_the_person(
    console_with_phones: tuple[Console, SipPeer],
) -> None:
    console, peer = console_with_phones
    operator, ola, caller = peer.uas["operator"], peer.uas["ola"], peer.uas["caller"]
    api = f"{console.base}api"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        login = {"username": OPERATOR, "password": OPERATOR_PASSWORD}
        async with http.post(f"{api}/login", json=login, headers={"Origin": console.origin}) as r:
            me = await r.json()
            assert (r.status, me["extension"]) == (200, "1001")
        headers = {"Origin": console.origin, CSRF_HEADER: me["csrf"]}
        async with http.get(f"{api}/stream") as stream:
            seen = events(stream)
            assert (await anext(seen))[0] == "hello"
            # No call on the operator's line yet: nothing to transfer, said plainly.
            async with http.post(f"{api}/transfer", json={"person": "ola"}, headers=headers) as r:
                assert r.status == 409
                assert (await r.json())["error"].startswith("Samtalen ble ikke satt over")

            # SAMTEK watches both phones (LDAP gave them their numbers after the start).
            pbx = console.service.connectors["pbx"]
            assert isinstance(pbx, SipConnector)
            await eventually(lambda: {"1001", "1002"} <= pbx.subscriptions().keys())
            await caller.dial(peer.uri("1001"))
            await operator.wait_event("CALL_INCOMING")
            await operator.accept()
            await established_with(caller, "1001")
            async with asyncio.timeout(20):
                async for event, data in seen:  # the page shows the operator in the call
                    rows = data if event == "rows" and isinstance(data, list) else []
                    if any(r["id"] == OPERATOR and r["phone"] == "in_call" for r in rows):
                        break

            async with http.post(f"{api}/transfer", json={"person": "ola"}, headers=headers) as r:
                answer = (r.status, await r.json())
            assert answer == (200, {"status": "transferred", "to": "1002"}), await audit(console)
            incoming = await ola.wait_event("CALL_INCOMING")
            assert "sip:1003@" in incoming["peeruri"]  # the caller, not the operator
            await ola.accept()
            await established_with(caller, "1002")
            await operator.wait_event("CALL_CLOSED")
            async with asyncio.timeout(20):
                async for event, data in seen:  # and then free again
                    rows = data if event == "rows" and isinstance(data, list) else []
                    if any(r["id"] == OPERATOR and r["phone"] is None for r in rows):
                        break
            dialogs = await peer.rpc("dlg.list")
            assert [(d["from_uri"].split("@")[0], d["to_uri"].split("@")[0], d["state"])
                    for d in dialogs] == [("sip:1003", "sip:1002", 4)]  # fmt: skip
            await ola.hangup()
    assert [(outcome, to) for outcome, to, _ in await audit(console)] == [
        ("failed", "1002"),
        ("transferred", "1002"),
    ]


async def test_operator_transfers_with_the_t_key_in_the_browser(
    console_with_phones: tuple[Console, SipPeer],
) -> None:
    console, peer = console_with_phones
    operator, ola, caller = peer.uas["operator"], peer.uas["ola"], peer.uas["caller"]
    pbx = console.service.connectors["pbx"]
    assert isinstance(pbx, SipConnector)
    browser = Browser()
    try:
        await browser.start()
        await browser.goto(console.base)
        await browser.wait_for("document.activeElement.id === 'username'")
        await browser.type(OPERATOR)
        await browser.evaluate("document.getElementById('password').focus()")
        await browser.type(OPERATOR_PASSWORD)
        await browser.press("Enter")
        await browser.wait_for("document.getElementById('live').textContent === 'Direkte'")

        await eventually(lambda: {"1001", "1002"} <= pbx.subscriptions().keys())
        await caller.dial(peer.uri("1001"))
        await operator.wait_event("CALL_INCOMING")
        await operator.accept()
        await established_with(caller, "1001")
        # The operator's own row says "in a call" once SAMTEK has seen it answered.
        await browser.wait_for(
            f"fetch('api/people/{OPERATOR}').then(r => r.json()).then(r => r.phone === 'in_call')"
        )

        await browser.evaluate("document.activeElement.blur()")
        await browser.press("/")
        await browser.type("ola")
        await browser.wait_for("!!document.querySelector('#results tr[data-id=ola]')")
        await browser.press("Enter")
        await browser.wait_for("document.activeElement.id === 'detail'")
        button = "document.querySelector('#detail button.transfer')"
        assert await browser.evaluate(f"{button}.textContent") == "Sett over samtalen din hit (t)"
        await browser.press("t")
        await browser.wait_for(
            "document.getElementById('status').textContent"
            " === 'Samtalen er satt over til Ola Hansen.'"
        )
        incoming = await ola.wait_event("CALL_INCOMING")
        assert "sip:1003@" in incoming["peeruri"]
        await ola.accept()
        await established_with(caller, "1002")
        await operator.wait_event("CALL_CLOSED")
        await ola.hangup()
    finally:
        await browser.close()
    assert [(outcome, to) for outcome, to, _ in await audit(console)] == [("transferred", "1002")]


async def test_without_a_pbx_the_transfer_is_refused_plainly(console: Console) -> None:
    api = f"{console.base}api"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        login = {"username": OPERATOR, "password": OPERATOR_PASSWORD}
        async with http.post(f"{api}/login", json=login, headers={"Origin": console.origin}) as r:
            me = await r.json()
        headers = {"Origin": console.origin, CSRF_HEADER: me["csrf"]}
        async with http.post(f"{api}/transfer", json={"person": "ola"}, headers=headers) as r:
            assert (r.status, await r.json()) == (
                503,
                {"error": "Telefonsentralen kan ikke sette over samtaler herfra."},
            )
        async with http.post(f"{api}/transfer", json={"person": "x"}, headers=headers) as r:
            assert r.status == 400
        async with http.post(f"{api}/transfer", json={"person": "ola"}) as r:
            assert r.status == 403  # no Origin and CSRF token: not from the page
    assert await audit(console) == [
        ("unavailable", "+4735000002", "no telephony connector can transfer calls")
    ]
