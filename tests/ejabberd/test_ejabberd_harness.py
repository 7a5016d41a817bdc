"""The throw-away ejabberd harness itself: users and rosters, restart, failures."""

from __future__ import annotations

import pytest

from samtek.devserver.ejabberd import EjabberdError, EjabberdServer
from tests.overlay.helpers import PASSWORD, Client


async def test_users_and_roster_added_before_start_are_used() -> None:
    server = EjabberdServer(overlay=False)
    server.add_user("first.last", 'pä"ss\\word')
    server.add_user("user7", PASSWORD)
    server.add_contact("first.last", server.jid("user7"), name='Åse "7"', subscription="to")
    async with server:
        client = Client(server, "first.last", "pc")  # type: ignore[arg-type]
        client.xmpp.password = 'pä"ss\\word'
        await client.connect()
        roster = await client.xmpp.get_roster()
        assert roster is not None
        item = roster["roster"]["items"][server.jid("user7")]
        assert (item["name"], item["subscription"]) == ('Åse "7"', "to")
        await client.close()

        port = server.c2s_port
        await server.restart()  # same ports, same mnesia data
        assert server.c2s_port == port
        again = Client(server, "user7", "pc")  # type: ignore[arg-type]
        await again.connect()
        await again.close()
    assert not server.running
    assert not server.dir.exists()
    with pytest.raises(EjabberdError):
        server.add_user("late", PASSWORD)  # data belongs to ejabberd after the first start


async def test_start_failure_reports_log_tail() -> None:
    server = EjabberdServer(overlay_options={"max_rooms": "lots"})
    with pytest.raises(EjabberdError, match=r"(?s)exited with code.*max_rooms"):
        await server.start()
    assert not server.running
    server.cleanup()
