"""Refused requests to the SAMTEK Prosody modules cannot flood Prosody's log (issue 13, item 14).

An ordinary user sends 1,000 IQs to each module (overlay, OOF, rooms): each is refused, and
the log gets one line per module and sender plus one summary line with the count.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from xml.etree import ElementTree as ET

import pytest
from slixmpp.exceptions import IqError

from samtek.devserver.prosody import ProsodyServer
from tests.overlay.helpers import NS, PASSWORD, Client, IqKind, error_condition, send_iq

FLOOD = 1000
NS_OOF = "urn:samtek:oof:0"
NS_ROOMS = "urn:samtek:rooms:0"


@pytest.fixture
async def server() -> AsyncIterator[ProsodyServer]:
    prosody = ProsodyServer(oof=True)
    prosody.extra_host_config = (
        '\tmodules_enabled = { "samtek_overlay"; "samtek_oof"; "samtek_rooms" }\n'
        f'\tsamtek_rooms_trusted = {{ "{prosody.component_jid}" }}\n'
        # an interval longer than any test run: the count below cannot depend on timing
        "\tsamtek_log_interval = 3600\n"
    )
    for user in ("alice", "carol"):
        prosody.add_user(user, PASSWORD)
    try:
        await prosody.start()
        yield prosody
    finally:
        await prosody.stop()
        prosody.cleanup()


async def refused(client: Client, kind: IqKind, payload: ET.Element) -> str:
    iq = client.xmpp.make_iq(ito=client.server.domain, itype=kind)
    iq.append(payload)
    with pytest.raises(IqError) as err:
        await send_iq(iq)
    return error_condition(err.value.iq)


async def test_untrusted_iq_flood_is_logged_once_per_sender_with_a_count(
    server: ProsodyServer,
) -> None:
    carol = Client(server, "carol", "desk")
    await carol.connect()
    alice = server.jid("alice")
    requests: list[tuple[IqKind, ET.Element]] = [
        ("get", ET.Element(f"{{{NS}}}list")),
        ("set", ET.Element(f"{{{NS_OOF}}}oof")),
        ("set", ET.Element(f"{{{NS_ROOMS}}}bookmark", jid=alice, room="r@x.test")),
    ]
    try:
        for kind, payload in requests:
            conditions = await asyncio.gather(
                *(refused(carol, kind, copy.deepcopy(payload)) for _ in range(FLOOD))
            )
            assert set(conditions) == {"forbidden"}
    finally:
        await carol.close()

    # Every reply has arrived, so every refusal has been logged (or counted) by now.
    lines = server.log_path.read_text().splitlines()
    refusals = [line for line in lines if "from untrusted" in line]
    assert len(refusals) == 3, "\n".join(refusals[:10])

    await server.stop()  # pending counts are logged at shutdown
    lines = server.log_path.read_text().splitlines()
    for what in ("refused overlay requests", "refused OOF requests", "refused bookmark requests"):
        summary = [line for line in lines if f"{FLOOD - 1} more {what} not logged" in line]
        assert len(summary) == 1, what
        assert "1 sender(s)" in summary[0]
