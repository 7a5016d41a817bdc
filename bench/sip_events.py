"""Figures for the SIP connector against a real Kamailio + baresip (needs the apt packages).

    /work/main/.venv/bin/python -m bench.sip_events [extensions]

Prints: time to subscribe N extensions, dial -> CallEvent(ringing) latency, answer ->
CallEvent(answered) latency, Kamailio restart -> all re-subscribed, click-to-call duration.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Callable, Mapping

from connectors.sip import SipConfig, SipConnector
from samtek.bus import Bus, Subscription
from samtek.health import HealthReporter
from samtek.model import Person
from samtek.plugin import ConnectorContext, Directory
from samtek.telephony import CallEvent, CallState
from tests.servers.sip import SipPeer


class _People(Directory):
    def __init__(self, people: list[Person]) -> None:
        self._people = {p.id: p for p in people}

    def people(self) -> Mapping[str, Person]:
        return self._people


async def _until(condition: Callable[[], bool], limit: float = 60) -> None:
    async with asyncio.timeout(limit):
        while True:
            if condition():
                return
            await asyncio.sleep(0.005)


async def main(extra: int) -> None:
    peer = SipPeer(users={"a": "1001", "b": "1002"})
    await peer.start()
    try:
        people = [
            Person(id=f"p{n}", jid=f"p{n}@x", name=f"P{n}", municipality="x", phones=(str(n),))
            for n in [1001, 1002, *range(3000, 3000 + extra)]
        ]
        bus = Bus()
        calls = bus.subscribe(CallEvent)
        ctx = ConnectorContext(
            "pbx", _People(people), bus=bus, health=HealthReporter("pbx"), store=None
        )  # type: ignore[arg-type]
        config = SipConfig(
            type="sip",
            server_host="127.0.0.1",
            server_port=peer.sip_port,
            bind_host="127.0.0.1",
            bind_port=0,
            probe_interval=1,
            transaction_timeout=2,
            retry_initial=0.2,
            retry_max=2,
        )
        connector = SipConnector(config, ctx)
        total = len(people)
        t0 = time.perf_counter()
        task = asyncio.create_task(connector.run())
        await _until(lambda: len(connector.subscriptions()) == total)
        print(f"subscribe {total} extensions: {time.perf_counter() - t0:.3f} s")

        a, b = peer.uas["a"], peer.uas["b"]
        ring: list[float] = []
        answer: list[float] = []
        for _ in range(5):
            t = time.perf_counter()
            await a.dial(peer.uri("1002"))
            event = await _next(calls, CallState.RINGING)
            ring.append(time.perf_counter() - t)
            await b.wait_event("CALL_INCOMING")
            t = time.perf_counter()
            await b.accept()
            await _next(calls, CallState.ANSWERED)
            answer.append(time.perf_counter() - t)
            await a.hangup()
            await _next(calls, CallState.HUNG_UP)
            assert event.extension == "1002"
        print(
            f"dial -> CallEvent ringing: median {statistics.median(ring) * 1000:.1f} ms "
            f"(max {max(ring) * 1000:.1f})"
        )
        print(
            f"accept -> CallEvent answered: median {statistics.median(answer) * 1000:.1f} ms "
            f"(max {max(answer) * 1000:.1f})"
        )

        before = set(connector.subscriptions().values())
        t = time.perf_counter()
        await peer.restart_kamailio(reregister=False)
        restarted = time.perf_counter()
        await _until(
            lambda: (
                len(connector.subscriptions()) == total
                and not before & set(connector.subscriptions().values())
            )
        )
        print(
            f"kamailio restart ({restarted - t:.2f} s) -> all {total} re-subscribed: "
            f"{time.perf_counter() - restarted:.2f} s (probe_interval {config.probe_interval} s)"
        )

        await peer.restart_kamailio()  # re-register the phones for click-to-call
        a, b = peer.uas["a"], peer.uas["b"]  # restarted UAs
        t = time.perf_counter()
        originate = asyncio.create_task(connector.originate("1001", "1002"))
        await a.wait_event("CALL_INCOMING")
        await a.accept()
        await b.wait_event("CALL_INCOMING")
        await b.accept()
        await originate
        print(f"click-to-call incl. both (scripted) answers: {time.perf_counter() - t:.3f} s")
        await b.hangup()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    finally:
        await peer.stop()


async def _next(calls: Subscription[CallEvent], state: CallState) -> CallEvent:
    async with asyncio.timeout(20):
        async for event in calls:
            if event.extension == "1002" and event.state is state:
                return event
    raise RuntimeError("bus subscription ended")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 200))
