"""The connector against a Kamailio that challenges SAMTEK with digest auth."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from samtek.plugin import AuthFailed
from samtek.telephony import CallState
from tests.servers.sip import SipPeer
from tests.telephony.conftest import make_connector, running_connector


@pytest.fixture
async def auth_peer() -> AsyncIterator[SipPeer]:
    peer = SipPeer(users={"a": "1001", "b": "1002"}, auth_users={"samtek": "s3cret"})
    try:
        await peer.start()
        yield peer
    finally:
        await peer.stop()


async def test_digest_auth_for_subscribe_and_click_to_call(
    auth_peer: SipPeer, tmp_path: Path
) -> None:
    secret = tmp_path / "pbx-password"
    secret.write_text("s3cret\n")
    running = make_connector(auth_peer, auth_username="samtek", auth_password=f"file:{secret}")
    async with running_connector(running):
        await running.wait_subscribed({"1001", "1002"})
        a, b = auth_peer.uas["a"], auth_peer.uas["b"]
        originate = asyncio.create_task(running.connector.originate("1001", "1002"))
        await a.wait_event("CALL_INCOMING")
        await a.accept()
        await b.wait_event("CALL_INCOMING")
        await b.accept()
        assert await asyncio.wait_for(originate, 20)
        await running.wait_call("1002", CallState.ANSWERED)
        await b.hangup()
        await running.wait_call("1002", CallState.HUNG_UP)


async def test_wrong_password_stops_with_auth_failed(auth_peer: SipPeer, tmp_path: Path) -> None:
    secret = tmp_path / "pbx-password"
    secret.write_text("wrong")
    running = make_connector(auth_peer, auth_username="samtek", auth_password=f"file:{secret}")
    async with running_connector(running) as task:
        with pytest.raises(AuthFailed, match=r"401|407"):
            await asyncio.wait_for(task, 20)
