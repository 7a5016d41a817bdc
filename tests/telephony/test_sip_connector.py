"""The SIP connector against a real Kamailio + baresip peer (tests/servers/sip.py)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from samtek.health import HealthState
from samtek.telephony import (
    CallDirection,
    CallState,
    DeviceState,
    NotSupportedByPbx,
    Telephony,
    TelephonyError,
)
from tests.servers.sip import SipPeer
from tests.telephony.conftest import Running, eventually, make_connector, running_connector


async def test_answered_call_publishes_ringing_answered_hung_up(
    sip_peer: SipPeer, sip_connector: Running
) -> None:
    a, b = sip_peer.uas["a"], sip_peer.uas["b"]
    await a.dial(sip_peer.uri("1002"))
    await b.wait_event("CALL_INCOMING")
    await sip_connector.wait_call("1002", CallState.RINGING)
    await eventually(lambda: DeviceState.RINGING in sip_connector.devices_of("1002"))
    await b.accept()
    await sip_connector.wait_call("1002", CallState.ANSWERED)
    await a.hangup()
    await sip_connector.wait_call("1002", CallState.HUNG_UP)
    await sip_connector.wait_call("1001", CallState.HUNG_UP)
    await eventually(lambda: sip_connector.devices_of("1002")[-1:] == [DeviceState.IDLE])

    callee = sip_connector.calls_of("1002")
    assert [e.state for e in callee] == [CallState.RINGING, CallState.ANSWERED, CallState.HUNG_UP]
    assert {e.direction for e in callee} == {CallDirection.IN}
    assert {e.remote_number for e in callee} == {"1001"}
    assert len({e.call_id for e in callee}) == 1
    assert all(e.at.tzinfo is not None for e in callee)
    assert sip_connector.devices_of("1002") == [
        DeviceState.IDLE,
        DeviceState.RINGING,
        DeviceState.IN_USE,
        DeviceState.IDLE,
    ]
    caller = sip_connector.calls_of("1001")
    assert [e.state for e in caller] == [CallState.RINGING, CallState.ANSWERED, CallState.HUNG_UP]
    assert {e.direction for e in caller} == {CallDirection.OUT}
    assert {e.remote_number for e in caller} == {"1002"}
    assert {e.call_id for e in caller} == {callee[0].call_id}


async def test_caller_cancels_gives_exactly_one_missed(
    sip_peer: SipPeer, sip_connector: Running
) -> None:
    a, b = sip_peer.uas["a"], sip_peer.uas["b"]
    await a.dial(sip_peer.uri("1002"))
    await b.wait_event("CALL_INCOMING")
    first = await sip_connector.wait_call("1002", CallState.RINGING)
    await a.hangup()  # CANCEL before B answers
    await b.wait_event("CALL_CLOSED")
    await sip_connector.wait_call("1002", CallState.MISSED)

    # A second call is the barrier: every event of the first call comes before its ringing,
    # including anything from the full-state NOTIFYs that repeat the terminated dialog.
    await a.dial(sip_peer.uri("1002"))
    await b.wait_event("CALL_INCOMING")
    second = await sip_connector.wait_call("1002", CallState.RINGING, after=1)
    assert second.call_id != first.call_id
    of_first = [e for e in sip_connector.calls_of("1002") if e.call_id == first.call_id]
    assert [e.state for e in of_first] == [CallState.RINGING, CallState.MISSED]
    assert of_first[1].remote_number == "1001"
    assert of_first[1].direction is CallDirection.IN
    caller = [e for e in sip_connector.calls_of("1001") if e.call_id == first.call_id]
    assert CallState.MISSED not in {e.state for e in caller}  # the caller gave up: hung_up
    await a.hangup()


async def test_click_to_call_rings_caller_then_connects_callee(
    sip_peer: SipPeer, sip_connector: Running
) -> None:
    a, b = sip_peer.uas["a"], sip_peer.uas["b"]
    assert isinstance(sip_connector.connector, Telephony)
    originate = asyncio.create_task(sip_connector.connector.originate("1001", "1002"))
    await a.wait_event("CALL_INCOMING")
    await eventually(lambda: DeviceState.RINGING in sip_connector.devices_of("1001"))
    await a.accept()
    incoming = await b.wait_event("CALL_INCOMING")
    assert "1001" in incoming["peeruri"]  # B sees A calling, not SAMTEK
    await b.accept()
    call_id = await asyncio.wait_for(originate, 20)
    assert call_id
    answered = await sip_connector.wait_call("1002", CallState.ANSWERED)
    assert answered.remote_number == "1001"
    await sip_connector.wait_call("1001", CallState.ANSWERED)
    await b.hangup()
    await sip_connector.wait_call("1002", CallState.HUNG_UP)
    await sip_connector.wait_call("1001", CallState.HUNG_UP)
    # A's call events are only the call to B: the leg from SAMTEK that rang A is no call.
    a_events = sip_connector.calls_of("1001")
    assert {e.remote_number for e in a_events} == {"1002"}
    assert {e.direction for e in a_events} == {CallDirection.OUT}


async def test_kamailio_restart_resubscribes_and_sees_next_call(
    sip_peer: SipPeer, sip_connector: Running
) -> None:
    before = sip_connector.connector.subscriptions()
    await sip_peer.restart_kamailio()
    await sip_connector.wait_subscribed({"1001", "1002"}, not_in=frozenset(before.values()))

    a, b = sip_peer.uas["a"], sip_peer.uas["b"]
    await a.dial(sip_peer.uri("1002"))
    await b.wait_event("CALL_INCOMING")
    ringing = await sip_connector.wait_call("1002", CallState.RINGING)
    assert ringing.remote_number == "1001"
    await a.hangup()
    missed = await sip_connector.wait_call("1002", CallState.MISSED)
    assert missed.call_id == ringing.call_id


async def test_pbx_down_reports_health_then_recovers(
    sip_peer: SipPeer, sip_connector: Running
) -> None:
    health = sip_connector.health
    before = sip_connector.connector.subscriptions()
    await sip_peer.stop_kamailio()
    await eventually(lambda: "pbx" in health.snapshot().item_errors)
    assert health.state is HealthState.DEGRADED
    assert "no final response" in health.snapshot().item_errors["pbx"]

    await sip_peer.restart_kamailio()  # starts it again (and re-registers the phones)
    await sip_connector.wait_subscribed({"1001", "1002"}, not_in=frozenset(before.values()))
    await eventually(lambda: health.state is HealthState.OK)
    a, b = sip_peer.uas["a"], sip_peer.uas["b"]
    await a.dial(sip_peer.uri("1002"))
    await b.wait_event("CALL_INCOMING")
    ringing = await sip_connector.wait_call("1002", CallState.RINGING)
    assert ringing.remote_number == "1001"
    await a.hangup()


async def test_click_to_call_rejected_by_caller_raises(
    sip_peer: SipPeer, sip_connector: Running
) -> None:
    a = sip_peer.uas["a"]
    originate = asyncio.create_task(sip_connector.connector.originate("1001", "1002"))
    await a.wait_event("CALL_INCOMING")
    await a.hangup()  # reject while ringing
    with pytest.raises(TelephonyError, match="calling 1001 failed"):
        await asyncio.wait_for(originate, 20)


async def test_click_to_call_refuses_bad_extension_and_dnd_is_unsupported(
    sip_connector: Running,
) -> None:
    with pytest.raises(TelephonyError, match="not a valid extension"):
        await sip_connector.connector.originate("1001", "1002>\r\nRoute: <sip:evil")
    with pytest.raises(NotSupportedByPbx):
        await sip_connector.connector.set_dnd("1001", True)


@pytest.mark.slow
async def test_subscription_is_refreshed_before_expiry(sip_peer: SipPeer) -> None:
    """Expires 10 s: without a refresh Kamailio would end it (and a new Call-ID appear)."""
    running = make_connector(sip_peer, subscription_expires=10)
    async with running_connector(running):
        first = await running.wait_subscribed({"1001", "1002"})
        a, b = sip_peer.uas["a"], sip_peer.uas["b"]
        for _ in range(2):  # each round outlives one expiry period
            await asyncio.sleep(6)
            await a.dial(sip_peer.uri("1002"))
            await b.wait_event("CALL_INCOMING")
            await a.hangup()
            await b.wait_event("CALL_CLOSED")
        await running.wait_call("1002", CallState.MISSED, after=2)
        assert running.connector.subscriptions() == first
        assert [e.state for e in running.calls_of("1002")] == [
            CallState.RINGING,
            CallState.MISSED,
            CallState.RINGING,
            CallState.MISSED,
        ]


async def test_directory_changes_add_and_drop_subscriptions(sip_peer: SipPeer) -> None:
    running = make_connector(sip_peer, directory_poll=0.1)
    async with running_connector(running):
        await running.wait_subscribed({"1001", "1002"})
        anna, bjorn = running.directory.people()["anna"], running.directory.people()["bjorn"]
        running.directory.replace([anna])
        await eventually(lambda: set(running.connector.subscriptions()) == {"1001"})
        running.directory.replace([anna, replace(bjorn, phones=("1002", "10 03"))])
        await running.wait_subscribed({"1001", "1002", "1003"})


async def test_click_to_call_unanswered_is_cancelled(sip_peer: SipPeer) -> None:
    running = make_connector(sip_peer, originate_answer_timeout=1)
    async with running_connector(running):
        await running.wait_subscribed({"1001", "1002"})
        a = sip_peer.uas["a"]
        originate = asyncio.create_task(running.connector.originate("1001", "1002"))
        await a.wait_event("CALL_INCOMING")
        with pytest.raises(TelephonyError, match="1001 did not answer"):
            await originate
        await a.wait_event("CALL_CLOSED")  # the CANCEL stopped A's phone ringing
        await eventually(lambda: running.devices_of("1001")[-1:] == [DeviceState.IDLE])
        assert running.calls_of("1001") == []  # SAMTEK's own leg is not a missed call
