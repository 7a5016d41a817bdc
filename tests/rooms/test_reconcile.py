"""Reconciler against a real Prosody: rooms, config and affiliations as an owner's client sees
them; drift repaired; idempotent; invitations and bookmarks reach a member's client."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest
from slixmpp.stanza import Message

from bridges.rooms.invites import Inviter
from bridges.rooms.plan import Reconfigure, SetAffiliation
from bridges.rooms.reconciler import Reconciler
from bridges.rooms.spec import Room, read_specs, resolve
from samtek.devserver.prosody import ProsodyServer
from samtek.model import Person as DirectoryPerson
from samtek.xmpp.muc import MucClient
from tests.rooms.helpers import PASSWORD, Person, connected_link, rooms_prosody, xmpp_section

TODAY = date(2026, 6, 1)
USERS = ("kari", "ola", "per", "lise")

SPECS = """
[groups]
plan = ["lise", "ola"]

[[rooms]]
id = "e134"
name = "E134 Damåsen–Saggrenda"
description = "Reguleringsplan"
owners = ["kari"]
members = ["ola", "per"]
start = 2026-01-01
end = 2026-12-31

[[rooms]]
id = "kommuneplan"
name = "Kommuneplan"
owners = ["kari"]
groups = ["plan"]
language = "nn"

[[rooms]]
id = "apen"
name = "Åpent rom"
owners = ["per", "kari"]
members = ["lise"]
public = true
"""


@pytest.fixture
async def server() -> AsyncIterator[ProsodyServer]:
    prosody = rooms_prosody()
    for user in USERS:
        prosody.add_user(user, PASSWORD)
    try:
        await prosody.start()
        yield prosody
    finally:
        await prosody.stop()
        prosody.cleanup()


def people(prosody: ProsodyServer) -> dict[str, DirectoryPerson]:
    return {u: DirectoryPerson(u, prosody.jid(u), u.title(), "kongsberg") for u in USERS}


def load(prosody: ProsodyServer, spec_dir: Path, text: str) -> list[Room]:
    spec_dir.mkdir(exist_ok=True)
    (spec_dir / "portfolio.toml").write_text(text)
    return resolve(read_specs(spec_dir), people(prosody), prosody.muc_domain)


def invitation(message: Message) -> dict[str, str]:
    """The XEP-0249 <x/> attributes of a message, empty if it has none."""
    x = message.xml.find("{jabber:x:conference}x")
    return dict(x.attrib) if x is not None else {}


@contextlib.asynccontextmanager
async def reconciler(prosody: ProsodyServer, tmp: Path) -> AsyncIterator[Reconciler]:
    link, task = await connected_link(xmpp_section(prosody, tmp))
    muc = MucClient(link, prosody.muc_domain)
    try:
        yield Reconciler(muc, Inviter(muc, prosody.domain), retention_days=90)
    finally:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task


async def test_apply_creates_repairs_and_is_idempotent(
    server: ProsodyServer, tmp_path: Path
) -> None:
    kari = Person(server.jid("kari"), server.c2s_port)
    ola = Person(server.jid("ola"), server.c2s_port)
    await kari.connect()
    await ola.connect()
    rooms = load(server, tmp_path / "specs", SPECS)
    e134 = f"e134@{server.muc_domain}"
    async with reconciler(server, tmp_path) as rec:
        plan = await rec.plan(rooms, TODAY)
        print(plan.render())
        result = await rec.apply(plan)
        assert not result.failed

        config = await kari.room_config(e134)
        assert config["muc#roomconfig_roomname"] == "E134 Damåsen–Saggrenda"
        assert config["muc#roomconfig_roomdesc"] == "Reguleringsplan"
        assert config["muc#roomconfig_persistentroom"] == "1"
        assert config["muc#roomconfig_membersonly"] == "1"
        assert config["muc#roomconfig_publicroom"] in ("0", "")
        # archiving: Prosody's field, or ejabberd's (tests/ejabberd/rooms runs this test too)
        assert config.get("muc#roomconfig_enablearchiving", config.get("mam")) == "1"
        assert (await kari.room_config(f"apen@{server.muc_domain}"))[
            "muc#roomconfig_publicroom"
        ] == "1"
        nn = await kari.room_config(f"kommuneplan@{server.muc_domain}")
        assert nn["muc#roomconfig_lang"] == "nn"
        affiliations = await kari.affiliations(e134)
        assert affiliations[server.jid("kari")] == "owner"
        assert affiliations[server.jid("ola")] == "member"
        assert affiliations[server.jid("per")] == "member"
        group_room = await kari.affiliations(f"kommuneplan@{server.muc_domain}")
        assert group_room[server.jid("lise")] == group_room[server.jid("ola")] == "member"

        # the member's client: a direct invitation and a bookmark
        invite = await ola.wait_message(
            lambda m: invitation(m).get("jid") == e134, "direct invitation to e134"
        )
        reason = invitation(invite)["reason"]
        assert "E134" in reason
        # clients append ": xmpp:room" to the reason: the video link must not end the text
        assert not reason.rstrip().split()[-1].startswith("http"), reason
        # a nynorsk room invites in nynorsk (ola is not in a directory with a language)
        plan_room = f"kommuneplan@{server.muc_domain}"
        nn_invite = await ola.wait_message(
            lambda m: invitation(m).get("jid") == plan_room, "direct invitation to kommuneplan"
        )
        assert invitation(nn_invite)["reason"].startswith("Du er lagd til i prosjektrommet")
        bookmarks = await ola.bookmarks()
        assert bookmarks[e134].attrib["name"] == "E134 Damåsen–Saggrenda"
        assert bookmarks[e134].attrib["autojoin"] == "true"

        second = await rec.plan(rooms, TODAY)
        assert second.empty, second.render()

        # per is removed from the spec: he loses the affiliation (and the bookmark)
        rooms = load(
            server,
            tmp_path / "specs",
            SPECS.replace('members = ["ola", "per"]', 'members = ["ola"]'),
        )
        plan = await rec.plan(rooms, TODAY)
        assert [i for i in plan.actions if isinstance(i, SetAffiliation)] == [
            SetAffiliation(e134, server.jid("per"), "member", "none")
        ], plan.render()
        assert not (await rec.apply(plan)).failed
        assert server.jid("per") not in await kari.affiliations(e134)
        per = Person(server.jid("per"), server.c2s_port)
        await per.connect()
        assert e134 not in await per.bookmarks()  # the bookmark went with the membership
        assert f"apen@{server.muc_domain}" in await per.bookmarks()
        await per.disconnect()

        # drift by hand: kari makes the room public and adds an admin
        await kari.set_room_config(e134, {"muc#roomconfig_publicroom": "1"})
        await kari.set_affiliation(e134, server.jid("lise"), "admin")
        plan = await rec.plan(rooms, TODAY)
        print(plan.render())
        assert any(isinstance(i, Reconfigure) for i in plan.actions)
        assert not (await rec.apply(plan)).failed
        assert (await kari.room_config(e134))["muc#roomconfig_publicroom"] in ("0", "")
        assert server.jid("lise") not in await kari.affiliations(e134)
        after = await rec.plan(rooms, TODAY)
        assert after.empty, after.render()
    await kari.disconnect()
    await ola.disconnect()
