"""The documented precedence, end to end on real Kamailio/baresip, Prosody and an ICS feed.

bjorn is in a meeting; anna calls him in the middle of it; the call ends while the meeting
goes on; then bjorn sets "away" by hand. carl (subscribed to bjorn) must see exactly:
own -> "I møte til …" -> "Telefonen ringer" -> "På telefonen" -> "I møte til …" (a new
transition) -> bjorn's manual "away" -> and nothing else until the meeting would have ended.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from samtek.devserver.prosody import ProsodyServer
from samtek.telephony import CallState
from tests.e2e.regions import ics_meeting, next_whole_second, write_ics
from tests.instants import until_texts
from tests.servers.sip import SipPeer
from tests.telephony.test_phone_presence_e2e import (
    OWN_STATUS,
    clients,
    next_change,
    running_service,
    write_config,
)
from tests.xmpp_clients import SeenPresence

OSLO = ZoneInfo("Europe/Oslo")


async def test_meeting_call_inside_call_ends_then_manual_away(
    prosody: ProsodyServer,
    sip_peer: SipPeer,
    tmp_path: Path,
) -> None:
    bjorn, carl = await clients(prosody)
    bare = prosody.jid("bjorn")
    start = next_whole_second(3)
    end = start + timedelta(seconds=40)
    feed = tmp_path / "bjorn.ics"
    write_ics(feed, ics_meeting("m1", start, end))
    config = write_config(tmp_path, prosody, sip_peer)
    text = (
        config.read_text()
        .replace(
            'phones = ["10 02"]', f'phones = ["10 02"]\ncalendars = [{{ address = "{feed}" }}]'
        )
        .replace(
            'name = "Kongsberg kommune"',
            'name = "Kongsberg kommune"\ncalendar = "feeds"\n\n[connectors.feeds]\ntype = "ical"',
        )
    )
    config.write_text(text)

    def in_meeting(*between: float) -> set[str]:
        # Computed by the service somewhere `between`; this test runs on the system clock.
        return {f"I møte til {until}" for until in until_texts(end, OSLO, "nb", *between)}

    a, b = sip_peer.uas["a"], sip_peer.uas["b"]

    async with running_service(config) as running:
        own = SeenPresence("", "available", "", OWN_STATUS, 0)
        meeting = await next_change(carl, bare, own)
        assert meeting.show == "dnd" and meeting.status in in_meeting(start.timestamp(), meeting.at)
        assert abs(meeting.at - start.timestamp()) <= 0.5

        await a.dial(sip_peer.uri("1002"))
        await b.wait_event("CALL_INCOMING")
        ringing = await next_change(carl, bare, meeting)
        assert (ringing.show, ringing.status) == ("dnd", "Telefonen ringer")
        await b.accept()
        talking = await next_change(carl, bare, ringing)
        assert (talking.show, talking.status) == ("dnd", "På telefonen")
        await a.hangup()
        await running.next_call(CallState.HUNG_UP)
        after_call = await next_change(carl, bare, talking)
        assert after_call.show == "dnd"
        assert after_call.status in in_meeting(talking.at, after_call.at)

        bjorn.set_presence("away", "Lunsj")
        manual = await next_change(carl, bare, after_call)
        assert (manual.show, manual.status) == ("away", "Lunsj")
        # Barrier: a second manual change must be the very next thing carl sees.
        bjorn.set_presence("away", "Lunsj snart ferdig")
        barrier = await next_change(carl, bare, manual)
        assert (barrier.show, barrier.status) == ("away", "Lunsj snart ferdig")
    await bjorn.disconnect()
    await carl.disconnect()
