"""Blind transfer through the SIP connector, against a real Kamailio with three baresip phones:
the REFER with Target-Dialog goes to Kamailio, whose dialog module moves the other party."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from connectors.sip.connector import SipConnector
from connectors.sip.dialoginfo import parse_dialog_info
from samtek.telephony import (
    CallDirection,
    CallState,
    CallTransfer,
    NotSupportedByPbx,
    TelephonyError,
)
from tests.servers.sip import SipPeer
from tests.telephony.conftest import make_connector, running_connector


@pytest.fixture
async def three_phones() -> AsyncIterator[SipPeer]:
    peer = SipPeer(users={"a": "1001", "b": "1002", "c": "1003"})
    try:
        await peer.start()
        yield peer
    finally:
        await peer.stop()


def test_connector_can_transfer() -> None:
    assert issubclass(SipConnector, CallTransfer)


def test_dialog_info_tags_are_read() -> None:
    body = b"""<?xml version="1.0"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="3" state="full"
  entity="sip:1001@pbx"><dialog id="d1" call-id="c1" local-tag="lt" remote-tag="rt"
  direction="recipient"><state>confirmed</state></dialog></dialog-info>"""
    info = parse_dialog_info(body)
    assert info is not None
    assert (info.dialogs[0].local_tag, info.dialogs[0].remote_tag) == ("lt", "rt")


async def test_transfer_of_a_call_the_operator_made(three_phones: SipPeer) -> None:
    running = make_connector(three_phones)
    a, b, c = (three_phones.uas[n] for n in "abc")
    async with running_connector(running):
        await running.wait_subscribed({"1001", "1002"})
        with pytest.raises(TelephonyError, match="no answered call"):
            await running.connector.transfer("1001", "1002")
        # Anna (1001) calls 1003, who answers; then she transfers 1003 to Bjørn (1002).
        await a.dial(three_phones.uri("1003"))
        await c.wait_event("CALL_INCOMING")
        await c.accept()
        answered = await running.wait_call("1001", CallState.ANSWERED)
        assert await running.connector.transfer("1001", "1002") == answered.call_id
        incoming = await b.wait_event("CALL_INCOMING")
        assert "sip:1003@" in incoming["peeruri"]
        await b.accept()
        await a.wait_event("CALL_CLOSED")
        await running.wait_call("1001", CallState.HUNG_UP)
        bjorn = await running.wait_call("1002", CallState.ANSWERED)
        assert (bjorn.direction, bjorn.remote_number) == (CallDirection.IN, "1003")
        dialogs = await three_phones.rpc("dlg.list")
        assert [(d["from_uri"].split("@")[0], d["to_uri"].split("@")[0]) for d in dialogs] == [
            ("sip:1003", "sip:1002")
        ]
        await b.hangup()
        with pytest.raises(TelephonyError, match="not a valid extension"):
            await running.connector.transfer("1001", "1002>;x")


async def test_a_pbx_that_does_not_transfer_for_us_is_reported_as_such(
    three_phones: SipPeer,
) -> None:
    # Kamailio's route moves calls only for the application server's identity ("samtek").
    running = make_connector(three_phones, user="stranger")
    a, c = three_phones.uas["a"], three_phones.uas["c"]
    async with running_connector(running):
        await running.wait_subscribed({"1001", "1002"})
        await a.dial(three_phones.uri("1003"))
        await c.wait_event("CALL_INCOMING")
        await c.accept()
        await running.wait_call("1001", CallState.ANSWERED)
        with pytest.raises(NotSupportedByPbx, match="403"):
            await running.connector.transfer("1001", "1002")
        assert len(await three_phones.rpc("dlg.list")) == 1  # the call goes on untouched
        await a.hangup()
