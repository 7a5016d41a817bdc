"""mod_samtek_overlay on a real Prosody 0.12 with real slixmpp clients and component."""

from __future__ import annotations

from tests.overlay.helpers import Client, Component, show_of, until_in
from tests.servers.prosody import ProsodyServer


async def test_set_overlays_contacts_but_not_own_resources(
    prosody: ProsodyServer, component: Component, client
) -> None:
    bob: Client = await client("bob", "desk")
    laptop: Client = await client("alice", "laptop", status="working")
    phone: Client = await client("alice", "phone", show="away", status="on the go")
    await bob.presence_from(phone.jid, 0, "away", "on the go")
    bob_mark, phone_mark = bob.presences.mark(), phone.presences.mark()

    await component.set(prosody.jid("alice"), "dnd", "t1", until_in(600), "I møte til 11:00")

    for resource in (laptop.jid, phone.jid):
        await bob.presence_from(resource, bob_mark, "dnd", "I møte til 11:00")
    # Own resources: laptop re-sends its unchanged presence; phone sees it real, bob overlaid.
    await laptop.send_presence(status="working")
    real = await phone.presence_from(laptop.jid, phone_mark, "available", "working")
    assert real["status"] == "working"
    assert not phone.presences.since(phone_mark, lambda p: show_of(p) == "dnd")


async def test_clear_restores_real_presence(
    prosody: ProsodyServer, component: Component, client
) -> None:
    bob: Client = await client("bob", "desk")
    laptop: Client = await client("alice", "laptop", show="chat", status="free")
    mark = bob.presences.mark()
    await component.set(prosody.jid("alice"), "dnd", "t1", until_in(600), "busy")
    await bob.presence_from(laptop.jid, mark, "dnd", "busy")

    mark = bob.presences.mark()
    await component.clear(prosody.jid("alice"))
    await bob.presence_from(laptop.jid, mark, "chat", "free")
