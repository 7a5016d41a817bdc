"""The throw-away Prosody harness itself: data files Prosody accepts, restart, failures."""

from __future__ import annotations

import pytest

from samtek.devserver.prosody import ProsodyError, ProsodyServer
from tests.overlay.helpers import PASSWORD, Client


async def test_users_and_roster_written_before_start_are_used() -> None:
    server = ProsodyServer(overlay=False)
    for i in range(2000):  # bulk path: plain files, no prosodyctl
        server.add_user(f"user{i}", PASSWORD)
    server.add_user("first.last", 'pä"ss\\word')  # encoded file name, escaped Lua string
    server.add_contact("first.last", server.jid("user7"), name='Åse "7"', subscription="to")
    async with server:
        client = Client(server, "first.last", "pc")
        client.xmpp.password = 'pä"ss\\word'
        await client.connect()
        roster = await client.xmpp.get_roster()
        assert roster is not None
        item = roster["roster"]["items"][server.jid("user7")]
        assert (item["name"], item["subscription"]) == ('Åse "7"', "to")
        await client.close()

        port = server.c2s_port
        await server.restart()  # same ports, same data
        assert server.c2s_port == port
        again = Client(server, "user1999", "pc")
        await again.connect()
        await again.close()
    assert not server.running
    assert not server.dir.exists()
    with pytest.raises(ProsodyError):
        server.add_user("late", PASSWORD)  # data belongs to Prosody after the first start


async def test_start_failure_reports_log_tail() -> None:
    server = ProsodyServer(extra_host_config="this is not lua")
    with pytest.raises(ProsodyError, match=r"(?s)exited with code.*syntax error"):
        await server.start()
    assert not server.running
    server.cleanup()
