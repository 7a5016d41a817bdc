"""mod_samtek_dnd.erl: the tests of tests/overlay/test_dnd_module.py, unchanged, against
ejabberd 23.01 (the conftest's ``prosody`` fixture loads the module with the component
trusted), plus the ejabberd-only checks: the rate-limited refusal log."""

from __future__ import annotations

import asyncio
from xml.etree import ElementTree as ET

import pytest
from slixmpp.exceptions import IqError

from tests.ejabberd.conftest import server_with_users
from tests.overlay.helpers import Client, error_condition, send_iq
from tests.overlay.test_dnd_module import (
    NS,
    test_only_a_trusted_component_sets_the_watch_list,
    test_only_watched_users_and_only_changes_by_hand_are_reported,
)

__all__ = [
    "test_only_a_trusted_component_sets_the_watch_list",
    "test_only_watched_users_and_only_changes_by_hand_are_reported",
]

FLOOD = 1000


async def refused(client: Client) -> str:
    iq = client.xmpp.make_iq(ito=client.server.domain, itype="set")
    iq.append(ET.Element(f"{{{NS}}}watch"))
    with pytest.raises(IqError) as err:
        await send_iq(iq)
    return error_condition(err.value.iq)


async def test_untrusted_watch_flood_is_logged_once_per_sender_with_a_count() -> None:
    """An ordinary user sends 1,000 refused watch lists: the log gets one line for her and
    one summary line with the count."""
    server = server_with_users(dnd=False)
    # An interval longer than any test run: the counts below cannot depend on timing.
    server.extra_modules = {
        "mod_samtek_dnd": {"trusted": [server.component_jid], "log_interval": 3600}
    }
    await server.start()
    try:
        carol = Client(server, "carol", "desk")  # type: ignore[arg-type]
        await carol.connect()
        try:
            conditions = await asyncio.gather(*(refused(carol) for _ in range(FLOOD)))
            assert set(conditions) == {"forbidden"}
        finally:
            await carol.close()
        await server.stop()  # pending counts are logged at shutdown
        lines = server.log_path.read_text().splitlines()
        refusals = [line for line in lines if "dnd request from untrusted" in line]
        assert len(refusals) == 1, "\n".join(refusals[:10])
        summary = [line for line in lines if f"{FLOOD - 1} more refused DND requests" in line]
        assert len(summary) == 1
        assert "1 sender(s)" in summary[0]
    finally:
        await server.stop()
        server.cleanup()
