"""Figures for phone presence and missed-call messages, end to end on real servers.

    /work/main/.venv/bin/python -m bench.phone_presence [rounds]

Kamailio + baresip (apt packages: see tests/servers/sip.py) -> SAMTEK (SIP connector,
presence bridge, missed-call notifier) -> Prosody -> a contact's slixmpp client. Per round:
caller dials -> contact sees "Telefonen ringer" (includes the SIP call setup); answer ->
"På telefonen"; hang-up -> own presence; an unanswered call given up -> missed-call message.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from samtek.devserver.prosody import ProsodyServer
from samtek.telephony import CallState
from tests.servers.sip import SipPeer
from tests.telephony.test_phone_presence_e2e import (
    OWN_STATUS,
    Inbox,
    clients,
    next_change,
    running_service,
    write_config,
)
from tests.xmpp_clients import SeenPresence


def _report(name: str, values: list[float]) -> None:
    ms = sorted(v * 1000 for v in values)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    print(
        f"{name:<34} n={len(ms):<3} median {statistics.median(ms):7.1f} ms"
        f"  p95 {p95:7.1f} ms  max {ms[-1]:7.1f} ms"
    )


async def main(rounds: int) -> None:
    prosody = ProsodyServer()
    peer = SipPeer(users={"a": "1001", "b": "1002"})
    figures: dict[str, list[float]] = {"dial -> contact sees ringing": [], "answer -> contact": []}
    figures |= {"hang-up -> own presence": [], "missed -> chat message": []}
    try:
        await peer.start()
        bjorn, carl = await clients(prosody)
        inbox = Inbox(bjorn)
        bare = prosody.jid("bjorn")
        a, b = peer.uas["a"], peer.uas["b"]
        with tempfile.TemporaryDirectory() as tmp:
            async with running_service(write_config(Path(tmp), prosody, peer)) as run:
                seen = SeenPresence("", "available", "", OWN_STATUS, 0)
                for _ in range(rounds):
                    dialled = time.time()
                    await a.dial(peer.uri("1002"))
                    seen = await next_change(carl, bare, seen)
                    figures["dial -> contact sees ringing"].append(seen.at - dialled)
                    await b.wait_event("CALL_INCOMING")
                    answered = time.time()
                    await b.accept()
                    seen = await next_change(carl, bare, seen)
                    figures["answer -> contact"].append(seen.at - answered)
                    hung_up = time.time()
                    await a.hangup()
                    seen = await next_change(carl, bare, seen)
                    figures["hang-up -> own presence"].append(seen.at - hung_up)
                    await b.wait_event("CALL_CLOSED")

                    await a.dial(peer.uri("1002"))
                    await b.wait_event("CALL_INCOMING")
                    await run.next_call(CallState.RINGING)
                    seen = await next_change(carl, bare, seen)  # ringing
                    given_up = time.time()
                    await a.hangup()
                    await inbox.next()
                    figures["missed -> chat message"].append(time.time() - given_up)
                    seen = await next_change(carl, bare, seen)  # own again
                    await b.wait_event("CALL_CLOSED")
        await bjorn.disconnect()
        await carl.disconnect()
    finally:
        await peer.stop()
        await prosody.stop()
        prosody.cleanup()
    for name, values in figures.items():
        _report(name, values)
        if "-v" in sys.argv:
            print("   ", " ".join(f"{v * 1000:.1f}" for v in values))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 10))
