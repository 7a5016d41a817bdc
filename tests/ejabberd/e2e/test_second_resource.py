"""A second device logs in mid-meeting, on both servers: contacts see the new device in the
meeting at once (the overlay applies to its initial presence, no re-send by SAMTEK needed),
the new device sees her other device's real presence, and the end of the meeting restores
the real presence of both.  (An overlay done with ejabberd's set_presence API would be lost
by a session that logs in later: the reason for the server module.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from samtek.devserver.ejabberd import EjabberdServer
from samtek.devserver.prosody import ProsodyServer
from tests.conftest import RunningService
from tests.e2e.regions import ics_meeting, next_whole_second, write_config, write_ics
from tests.e2e.test_calendar_presence import OWN_STATUS, online_pair, setup_users
from tests.xmpp_clients import SeenPresence, TestClient

PHONE_STATUS = "På farten"


@pytest.fixture(params=["prosody", "ejabberd"])
async def xmpp_server(
    request: pytest.FixtureRequest,
) -> AsyncIterator[ProsodyServer | EjabberdServer]:
    server = ProsodyServer() if request.param == "prosody" else EjabberdServer()
    try:
        yield server
    finally:
        await server.stop()
        server.cleanup()


async def next_from_resource(client: TestClient, full_jid: str) -> SeenPresence:
    while True:
        seen = await client.next_from(full_jid.split("/")[0], timeout=15)
        if seen.sender == full_jid:
            return seen


async def test_second_device_logging_in_mid_meeting_shows_the_meeting(
    xmpp_server: ProsodyServer | EjabberdServer,
    samtek_service: type[RunningService],
    tmp_path: Path,
) -> None:
    server = xmpp_server
    setup_users(server)  # type: ignore[arg-type]
    await server.start()
    alice, bob = await online_pair(server)  # type: ignore[arg-type]
    start = next_whole_second(2.5)
    end = start + timedelta(seconds=6)
    feed = tmp_path / "alice.ics"
    write_ics(feed, ics_meeting("m1", start, end))
    config = write_config(tmp_path, server, {"alice": feed})  # type: ignore[arg-type]
    await samtek_service(config).start()
    assert (await bob.next_from(server.jid("alice"))).show == "dnd"

    phone_jid = f"{server.jid('alice')}/phone"
    phone = TestClient(phone_jid, "pw", server.c2s_port, show="away", status=PHONE_STATUS)
    await phone.connect()
    seen = await next_from_resource(bob, phone_jid)
    assert seen.show == "dnd"
    assert seen.status.startswith("I møte til ")
    # The phone sees the laptop's real presence (the answer to its own probe), never dnd.
    assert alice.xmpp is not None
    laptop_jid = alice.xmpp.boundjid.full
    laptop = await next_from_resource(phone, laptop_jid)
    assert (laptop.show, laptop.status) == ("", OWN_STATUS)

    after = {}
    while len(after) < 2:  # the end of the meeting: both devices real again
        p = await bob.next_from(server.jid("alice"), timeout=15)
        if p.show != "dnd":
            after[p.sender.split("/")[1]] = (p.show, p.status)
    assert after[laptop_jid.split("/")[1]] == ("", OWN_STATUS)
    assert after["phone"] == ("away", PHONE_STATUS)
    assert all(p.show != "dnd" for p in phone.drain() if p.sender.startswith(server.jid("alice")))
    for c in (alice, bob, phone):
        await c.disconnect()
