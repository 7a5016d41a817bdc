"""More call outcomes as the callee's extension sees them: timeout, reject, call waiting."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from samtek.telephony import CallDirection, CallState, DeviceState
from tests.servers.sip import SipPeer
from tests.telephony.conftest import eventually, make_connector, running_connector


@pytest.fixture
async def three_phones() -> AsyncIterator[SipPeer]:
    # A 2 s ring timeout, so an unanswered call ends (408) without a long wait.
    peer = SipPeer(users={"a": "1001", "b": "1002", "c": "1003"}, ring_timeout_ms=2000)
    try:
        await peer.start()
        yield peer
    finally:
        await peer.stop()


async def test_ring_timeout_and_reject_are_missed(three_phones: SipPeer) -> None:
    running = make_connector(three_phones)
    async with running_connector(running):
        await running.wait_subscribed({"1001", "1002"})
        a, b = three_phones.uas["a"], three_phones.uas["b"]
        await a.dial(three_phones.uri("1002"))
        await b.wait_event("CALL_INCOMING")
        timed_out = await running.wait_call("1002", CallState.MISSED)  # nobody answers
        await a.wait_event("CALL_CLOSED")

        await a.dial(three_phones.uri("1002"))
        await b.wait_event("CALL_INCOMING")
        await running.wait_call("1002", CallState.RINGING, after=2)
        await b.hangup()  # reject
        rejected = await running.wait_call("1002", CallState.MISSED, after=2)
        assert rejected.call_id != timed_out.call_id
        assert [e.state for e in running.calls_of("1002")] == [
            CallState.RINGING,
            CallState.MISSED,
            CallState.RINGING,
            CallState.MISSED,
        ]


async def test_call_waiting_keeps_in_use_and_reports_second_caller(
    three_phones: SipPeer,
) -> None:
    running = make_connector(three_phones)
    async with running_connector(running):
        await running.wait_subscribed({"1001", "1002"})
        a, b, c = (three_phones.uas[n] for n in "abc")
        await a.dial(three_phones.uri("1002"))
        await b.wait_event("CALL_INCOMING")
        await b.accept()
        await running.wait_call("1002", CallState.ANSWERED)
        await eventually(lambda: running.devices_of("1002")[-1:] == [DeviceState.IN_USE])

        await c.dial(three_phones.uri("1002"))
        waiting = await running.wait_call("1002", CallState.RINGING, after=2)
        assert waiting.remote_number == "1003"
        assert waiting.direction is CallDirection.IN
        await c.hangup()
        await running.wait_call("1002", CallState.MISSED)
        await a.hangup()
        await running.wait_call("1002", CallState.HUNG_UP)
        await eventually(lambda: running.devices_of("1002")[-1:] == [DeviceState.IDLE])
        # A second call while busy does not make the phone "ringing": it stays in use.
        assert running.devices_of("1002") == [
            DeviceState.IDLE,
            DeviceState.RINGING,
            DeviceState.IN_USE,
            DeviceState.IDLE,
        ]
