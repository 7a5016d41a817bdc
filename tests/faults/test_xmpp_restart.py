"""The XMPP server restarts mid-meeting: it forgets every overlay and every session.

SAMTEK (in-process) reconnects by itself and re-asserts the overlay; the figure printed is
from Prosody accepting connections again to the link being back, and to bob (logged in again)
seeing alice in the meeting again.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from samtek.devserver.prosody import ProsodyServer
from samtek.health import HealthState
from tests.conftest import RunningService
from tests.e2e.regions import ics_meeting, next_whole_second, write_ics
from tests.faults.helpers import online_pair, poll, report, setup_users, until_seen, write_config


async def test_prosody_restart_mid_meeting(
    prosody: ProsodyServer, samtek_service: type[RunningService], tmp_path: Path
) -> None:
    setup_users(prosody)
    await prosody.start()
    alice, bob = await online_pair(prosody)
    start = next_whole_second(2.5)
    feed = tmp_path / "alice.ics"
    write_ics(feed, ics_meeting("m1", start, start + timedelta(hours=1)))
    service = await samtek_service(write_config(tmp_path, prosody, {"alice": feed})).start()
    await until_seen(bob, prosody, "dnd")
    link = service.supervisor.health()["xmpp"]
    try:
        await prosody.restart()
        back_up = time.time()
        await alice.disconnect()
        await bob.disconnect()
        alice, bob = await online_pair(prosody)
        seen = await until_seen(bob, prosody, "dnd", timeout=60)
        report("Prosody restart: server up -> overlay re-asserted at a contact", seen - back_up)
        await poll(lambda: link.state == HealthState.OK, 30, "xmpp link healthy again")
        report("Prosody restart: server up -> link healthy", time.time() - back_up)
    finally:
        await alice.disconnect()
        await bob.disconnect()
