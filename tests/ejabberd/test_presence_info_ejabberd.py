"""deploy/ejabberd/mod_samtek_presence_info.erl: who is online, for the assistant's `status`.

The same protocol as deploy/prosody/mod_samtek_presence_info.lua (urn:samtek:presence-info:0):
only the trusted component is answered, only about users of the server's own host, at most
MAX_USERS per request, with what the users' own clients set (never an overlay).  The
assistant's own tests of it run on ejabberd in e2e/test_status_ejabberd.py.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable
from datetime import datetime
from xml.etree import ElementTree as ET

import pytest
from slixmpp.exceptions import IqError

from bridges.assistant.online import MAX_USERS
from samtek.devserver.ejabberd import EjabberdServer
from tests.ejabberd.conftest import server_with_users
from tests.ejabberd.test_readme import yaml_blocks
from tests.overlay.helpers import (
    PASSWORD,
    Client,
    Component,
    IqKind,
    error_condition,
    send_iq,
    until_in,
)

NS = "urn:samtek:presence-info:0"
FLOOD = 200
NewClient = Callable[..., Awaitable[Client]]


def query(*jids: str) -> ET.Element:
    payload = ET.Element(f"{{{NS}}}query")
    for jid in jids:
        ET.SubElement(payload, f"{{{NS}}}user", jid=jid)
    return payload


async def ask(component: Component, *jids: str) -> list[ET.Element]:
    """The <user/> answers of one request, in order."""
    result = await component.iq("get", query(*jids))
    found = result.xml.find(f"{{{NS}}}query")
    assert found is not None, f"result without <query/>: {result}"
    return found.findall(f"{{{NS}}}user")


async def refused(client: Client, kind: IqKind, payload: ET.Element) -> str:
    iq = client.xmpp.make_iq(ito=client.server.domain, itype=kind)
    iq.append(payload)
    with pytest.raises(IqError) as err:
        await send_iq(iq)
    return error_condition(err.value.iq)


def since(user: ET.Element) -> datetime:
    text = user.get("since")
    assert text is not None and text.endswith("Z"), user.attrib
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_trusted_component_gets_what_the_user_set_not_the_overlay(
    prosody: EjabberdServer, component: Component, client: NewClient
) -> None:
    """Alice set dnd "Fokus" by hand on her laptop (and away on a phone of lower priority);
    SAMTEK then overlays xa "I møte", which her contact sees.  The answer is her own."""
    bob = await client("bob", "desk")
    laptop = await client("alice", "laptop", show="dnd", status="Fokus", priority=5)
    await client("alice", "phone", show="away", status="Lunsj", priority=0)
    mark = bob.presences.mark()
    await component.set(prosody.jid("alice"), "xa", "t1", until_in(600), "I møte")
    await bob.presence_from(laptop.jid, mark, "xa", "I møte")  # the overlay is active

    [alice] = await ask(component, prosody.jid("alice"))
    assert alice.get("jid") == prosody.jid("alice")
    assert (alice.get("online"), alice.get("show"), alice.text) == ("true", "dnd", "Fokus")
    first = since(alice)
    [again] = await ask(component, prosody.jid("alice"))
    assert since(again) == first  # nothing she set changed


async def test_offline_users_never_seen_and_logged_out(
    prosody: EjabberdServer, component: Component, client: NewClient
) -> None:
    """Carol never logged in: offline, since unknown.  Bob logs out: offline since then."""
    bob = await client("bob", "desk", status="here")
    [online] = await ask(component, prosody.jid("bob"))
    assert (online.get("online"), online.get("show"), online.text) == ("true", "available", "here")
    await bob.close()
    async with asyncio.timeout(15):  # hang guard while the session ends
        while (answer := await ask(component, prosody.jid("bob"), prosody.jid("carol")))[0].get(
            "online"
        ) != "false":
            await asyncio.sleep(0.05)
    gone, carol = answer
    assert gone.get("show") is None and not gone.text
    assert since(gone) >= since(online)
    assert carol.attrib == {"jid": prosody.jid("carol"), "online": "false"}
    assert not carol.text


async def test_untrusted_sender_is_refused_and_the_flood_logged_once() -> None:
    """An ordinary user asks: forbidden, for any kind of request; 200 refusals give one log
    line for the sender and one summary with the count."""
    server = server_with_users()
    server.extra_modules = {
        "mod_samtek_presence_info": {"trusted": [server.component_jid], "log_interval": 3600}
    }
    await server.start()
    try:
        carol = Client(server, "carol", "desk")  # type: ignore[arg-type]
        await carol.connect()
        try:
            kinds: list[IqKind] = ["get", "set"]
            payload = query(server.jid("alice"))
            conditions = await asyncio.gather(
                *(refused(carol, kinds[i % 2], copy.deepcopy(payload)) for i in range(FLOOD))
            )
            assert set(conditions) == {"forbidden"}
        finally:
            await carol.close()
        await server.stop()  # pending counts are logged at shutdown
        lines = server.log_path.read_text().splitlines()
        refusals = [line for line in lines if "presence info request from untrusted" in line]
        assert len(refusals) == 1, "\n".join(refusals[:10])
        assert server.jid("carol") in refusals[0]
        summary = [line for line in lines if "more refused presence info requests" in line]
        assert len(summary) == 1 and f"{FLOOD - 1} more" in summary[0], summary
    finally:
        await server.stop()
        server.cleanup()


async def test_at_most_max_users_are_answered(
    prosody: EjabberdServer, component: Component
) -> None:
    wanted = [prosody.jid(f"user{i}") for i in range(MAX_USERS + 5)]
    answer = await ask(component, *wanted)
    assert [u.get("jid") for u in answer] == wanted[:MAX_USERS]


async def test_users_of_another_host_and_non_jids_are_not_answered() -> None:
    async with server_with_users(extra_hosts=["other.test"]) as server:
        component = Component(server)  # type: ignore[arg-type]
        await component.connect()
        try:
            answer = await ask(
                component,
                "alice@other.test",
                "alice@elsewhere.example",
                "@@not a jid",
                server.domain,
                server.jid("alice") + "/laptop",
            )
            assert [u.get("jid") for u in answer] == [server.jid("alice")]
        finally:
            await component.close()


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        ("set", query("alice@region.test")),
        ("get", ET.Element(f"{{{NS}}}users")),
    ],
    ids=["set", "unknown-element"],
)
async def test_malformed_request_gets_bad_request(
    component: Component, kind: IqKind, payload: ET.Element
) -> None:
    with pytest.raises(IqError) as err:
        await component.iq(kind, payload)
    assert error_condition(err.value.iq) == "bad-request"


async def test_readme_configuration_answers_the_component() -> None:
    """The module as deploy/ejabberd/README.md configures it (the harness's own entry off)."""
    modules = dict(yaml_blocks()[0]["modules"])
    info = modules["mod_samtek_presence_info"]
    server = EjabberdServer(overlay=False, extra_modules={"mod_samtek_presence_info": info})
    assert info["trusted"] == [server.component_jid]  # the same region.test names
    server.add_user("alice", PASSWORD)
    async with server:
        component = Component(server)  # type: ignore[arg-type]
        alice = Client(server, "alice", "laptop")  # type: ignore[arg-type]
        await component.connect()
        await alice.connect(show="away", status="Lunsj")
        try:
            [user] = await ask(component, server.jid("alice"))
            assert (user.get("online"), user.get("show"), user.text) == ("true", "away", "Lunsj")
        finally:
            await alice.close()
            await component.close()
