"""The SIP connector against a real Kamailio + baresip peer (tests/servers/sip.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from samtek.health import HealthState
from samtek.telephony import (
    CallDirection,
    CallEvent,
    CallState,
    DeviceState,
    DeviceStateUpdate,
    NotSupportedByPbx,
    Telephony,
    TelephonyError,
)
from tests.servers.sip import SipPeer
from tests.telephony.conftest import Running, eventually, next_matching


def _for(ext: str, state: CallState) -> Callable[[CallEvent], bool]:
    return lambda e: e.extension == ext and e.state is state


def _device(ext: str, state: DeviceState) -> Callable[[DeviceStateUpdate], bool]:
    return lambda e: e.extension == ext and e.state is state


async def test_answered_call_publishes_ringing_answered_hung_up(
    sip_peer: SipPeer, sip_connector: Running
) -> None:
    a, b = sip_peer.uas["a"], sip_peer.uas["b"]
    await a.dial(sip_peer.uri("1002"))
    await b.wait_event("CALL_INCOMING")

    ringing: CallEvent = await next_matching(sip_connector.calls, lambda e: e.extension == "1002")
    assert ringing.state is CallState.RINGING
    assert ringing.direction is CallDirection.IN
    assert ringing.remote_number == "1001"
    assert ringing.at.tzinfo is not None
    await next_matching(sip_connector.devices, _device("1002", DeviceState.RINGING))

    await b.accept()
    answered = await next_matching(sip_connector.calls, lambda e: e.extension == "1002")
    assert answered.state is CallState.ANSWERED
    assert answered.call_id == ringing.call_id
    await next_matching(sip_connector.devices, _device("1002", DeviceState.IN_USE))

    await a.hangup()
    ended = await next_matching(sip_connector.calls, lambda e: e.extension == "1002")
    assert ended.state is CallState.HUNG_UP
    assert ended.call_id == ringing.call_id
    await next_matching(sip_connector.devices, _device("1002", DeviceState.IDLE))


async def test_caller_cancels_gives_exactly_one_missed(
    sip_peer: SipPeer, sip_connector: Running
) -> None:
    a, b = sip_peer.uas["a"], sip_peer.uas["b"]
    await a.dial(sip_peer.uri("1002"))
    await b.wait_event("CALL_INCOMING")
    first = await next_matching(sip_connector.calls, _for("1002", CallState.RINGING))
    await a.hangup()  # CANCEL before B answers
    await b.wait_event("CALL_CLOSED")

    # A second call is the barrier: every event of the first call comes before its ringing,
    # including anything from the full-state NOTIFYs that repeat the terminated dialog.
    await a.dial(sip_peer.uri("1002"))
    await b.wait_event("CALL_INCOMING")
    seen: list[CallEvent] = []
    while True:
        event = await next_matching(sip_connector.calls, lambda e: e.extension == "1002")
        if event.call_id != first.call_id:
            break
        seen.append(event)
    assert [e.state for e in seen] == [CallState.MISSED]
    assert seen[0].remote_number == "1001"
    assert seen[0].direction is CallDirection.IN
    await a.hangup()


async def test_click_to_call_rings_caller_then_connects_callee(
    sip_peer: SipPeer, sip_connector: Running
) -> None:
    a, b = sip_peer.uas["a"], sip_peer.uas["b"]
    assert isinstance(sip_connector.connector, Telephony)
    originate = asyncio.create_task(sip_connector.connector.originate("1001", "1002"))
    await a.wait_event("CALL_INCOMING")
    await a.accept()
    incoming = await b.wait_event("CALL_INCOMING")
    assert "1001" in incoming["peeruri"]  # B sees A calling, not SAMTEK
    await b.accept()
    call_id = await asyncio.wait_for(originate, 20)
    assert call_id
    answered = await next_matching(sip_connector.calls, _for("1002", CallState.ANSWERED))
    assert answered.remote_number == "1001"
    await b.hangup()
    await next_matching(sip_connector.calls, _for("1002", CallState.HUNG_UP))


async def test_kamailio_restart_resubscribes_and_sees_next_call(
    sip_peer: SipPeer, sip_connector: Running
) -> None:
    before = sip_connector.connector.subscriptions()
    await sip_peer.restart_kamailio()
    await sip_connector.wait_subscribed({"1001", "1002"}, not_in=frozenset(before.values()))

    a, b = sip_peer.uas["a"], sip_peer.uas["b"]
    await a.dial(sip_peer.uri("1002"))
    await b.wait_event("CALL_INCOMING")
    ringing = await next_matching(sip_connector.calls, _for("1002", CallState.RINGING))
    assert ringing.remote_number == "1001"
    await a.hangup()
    missed = await next_matching(sip_connector.calls, _for("1002", CallState.MISSED))
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
    ringing = await next_matching(sip_connector.calls, _for("1002", CallState.RINGING))
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
