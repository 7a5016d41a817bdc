"""The spine, end to end: an ICS meeting -> SAMTEK -> Prosody -> a contact's ordinary client.

alice has a client online with her own status; bob is subscribed to her. Bounds from the
issue: bob sees alice's dnd "I møte til …" within 0.5 s after the start boundary and her own
presence within 0.5 s after the end boundary — also across restarts of SAMTEK and of Prosody.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from samtek.devserver.prosody import ProsodyServer
from tests.e2e.regions import ics_meeting, next_whole_second, write_config, write_ics
from tests.instants import until_texts
from tests.xmpp_clients import SeenPresence, TestClient

BOUND = 0.5
OWN_STATUS = "Jobber med budsjett"


async def online_pair(prosody: ProsodyServer) -> tuple[TestClient, TestClient]:
    alice = TestClient(prosody.jid("alice"), "pw", prosody.c2s_port, status=OWN_STATUS)
    bob = TestClient(prosody.jid("bob"), "pw", prosody.c2s_port)
    await alice.connect()
    await bob.connect()
    first = await bob.next_from(prosody.jid("alice"))
    assert (first.show, first.status) == ("", OWN_STATUS)
    return alice, bob


def setup_users(prosody: ProsodyServer) -> None:
    prosody.add_user("alice", "pw")
    prosody.add_user("bob", "pw")
    prosody.add_contact("alice", prosody.jid("bob"), subscription="both")
    prosody.add_contact("bob", prosody.jid("alice"), subscription="both")


def assert_on_time(seen: SeenPresence, boundary_ts: float) -> None:
    delay = seen.at - boundary_ts
    print(f"boundary -> contact: {delay * 1000:.1f} ms ({seen.show or 'own'})")
    assert -0.05 <= delay <= BOUND, f"received {delay:+.3f} s after the boundary"


async def test_meeting_sets_and_clears_presence_on_the_boundaries(
    prosody: ProsodyServer, samtek_service, tmp_path: Path
) -> None:
    setup_users(prosody)
    await prosody.start()
    alice, bob = await online_pair(prosody)
    start = next_whole_second(2.5)
    end = start + timedelta(seconds=3)
    feed = tmp_path / "alice.ics"
    write_ics(feed, ics_meeting("m1", start, end))
    config = write_config(tmp_path, prosody, {"alice": feed, "bob": tmp_path / "bob.ics"})
    write_ics(tmp_path / "bob.ics")
    await samtek_service(config).start()

    busy = await bob.next_from(prosody.jid("alice"))
    assert busy.show == "dnd"
    assert busy.status in {
        f"I møte til {u}" for u in until_texts(end, _oslo(), "nb", start, busy.at)
    }
    assert_on_time(busy, start.timestamp())
    back = await bob.next_from(prosody.jid("alice"))
    assert (back.show, back.status) == ("", OWN_STATUS)
    assert_on_time(back, end.timestamp())
    # alice's own client never saw the overlay: her devices keep her real presence.
    own = [p for p in alice.drain() if p.sender.startswith(prosody.jid("alice"))]
    assert all(p.show != "dnd" for p in own)
    await alice.disconnect()
    await bob.disconnect()


async def test_restart_of_samtek_mid_meeting(
    prosody: ProsodyServer, samtek_service, tmp_path: Path
) -> None:
    setup_users(prosody)
    await prosody.start()
    alice, bob = await online_pair(prosody)
    start = next_whole_second(2.5)
    end = start + timedelta(seconds=6)
    feed = tmp_path / "alice.ics"
    write_ics(feed, ics_meeting("m1", start, end))
    config = write_config(tmp_path, prosody, {"alice": feed})
    first = samtek_service(config)
    await first.start()
    busy = await bob.next_from(prosody.jid("alice"))
    assert busy.show == "dnd"
    await first.stop()  # mid-meeting
    second = samtek_service(config)
    await second.start()
    back = await bob.next_from(prosody.jid("alice"), timeout=15)
    # No flicker: the next thing bob sees is alice's own presence, on time.
    assert (back.show, back.status) == ("", OWN_STATUS)
    assert_on_time(back, end.timestamp())
    await alice.disconnect()
    await bob.disconnect()


async def test_restart_of_the_xmpp_server_mid_meeting(
    prosody: ProsodyServer, samtek_service, tmp_path: Path
) -> None:
    setup_users(prosody)
    await prosody.start()
    alice, bob = await online_pair(prosody)
    start = next_whole_second(2.5)
    end = start + timedelta(seconds=10)
    feed = tmp_path / "alice.ics"
    write_ics(feed, ics_meeting("m1", start, end))
    config = write_config(tmp_path, prosody, {"alice": feed})
    await samtek_service(config).start()
    assert (await bob.next_from(prosody.jid("alice"))).show == "dnd"

    await prosody.restart()  # the server forgets every overlay and every session
    await alice.disconnect()
    await bob.disconnect()
    alice, bob = await online_pair_after_restart(prosody)
    back = await bob.next_from(prosody.jid("alice"), timeout=15)
    assert (back.show, back.status) == ("", OWN_STATUS)
    assert_on_time(back, end.timestamp())
    await alice.disconnect()
    await bob.disconnect()


async def online_pair_after_restart(prosody: ProsodyServer) -> tuple[TestClient, TestClient]:
    """Clients log in again; SAMTEK reconnects by itself and re-asserts alice's overlay."""
    alice = TestClient(prosody.jid("alice"), "pw", prosody.c2s_port, status=OWN_STATUS)
    bob = TestClient(prosody.jid("bob"), "pw", prosody.c2s_port)
    await alice.connect()
    await bob.connect()
    while True:
        seen = await bob.next_from(prosody.jid("alice"), timeout=15)
        if seen.show == "dnd":
            return alice, bob


def _oslo():
    from zoneinfo import ZoneInfo

    return ZoneInfo("Europe/Oslo")
