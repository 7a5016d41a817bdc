"""Room squatting (issue 13, item 5), on a real Prosody: someone pre-creates a project room's
address with a password, `whois = anyone` and a subject of their own. SAMTEK takes the room
over (every config field reset, the squatter removed, the subject cleared) and reports it; the
deploy example's MUC settings stop ordinary users from creating rooms at all."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

from bridges.rooms.invites import Inviter
from bridges.rooms.plan import TakeOver
from bridges.rooms.reconciler import Reconciler
from bridges.rooms.spec import Room, read_specs, resolve
from samtek.devserver.prosody import ProsodyServer
from samtek.health import HealthReporter
from samtek.model import Person as DirectoryPerson
from samtek.xmpp.muc import MucClient
from tests.rooms.helpers import (
    PASSWORD,
    Person,
    connected_link,
    deploy_muc_options,
    rooms_prosody,
    xmpp_section,
)

TODAY = date(2026, 6, 1)
USERS = ("kari", "ola", "mallory")
SPEC = """
[[rooms]]
id = "e134"
name = "E134"
owners = ["kari"]
members = ["ola"]
"""


@contextlib.asynccontextmanager
async def started(muc_options: str = "") -> AsyncIterator[ProsodyServer]:
    prosody = rooms_prosody(muc_options=muc_options)
    for user in USERS:
        prosody.add_user(user, PASSWORD)
    try:
        await prosody.start()
        yield prosody
    finally:
        await prosody.stop()
        prosody.cleanup()


@contextlib.asynccontextmanager
async def reconciler(
    prosody: ProsodyServer, tmp: Path, health: HealthReporter
) -> AsyncIterator[Reconciler]:
    link, task = await connected_link(xmpp_section(prosody, tmp))
    muc = MucClient(link, prosody.muc_domain)
    try:
        yield Reconciler(muc, Inviter(muc, prosody.domain), 90, health=health)
    finally:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task


def rooms(prosody: ProsodyServer, tmp: Path) -> list[Room]:
    spec_dir = tmp / "specs"
    spec_dir.mkdir(exist_ok=True)
    (spec_dir / "rooms.toml").write_text(SPEC)
    people = {u: DirectoryPerson(u, prosody.jid(u), u.title(), "kongsberg") for u in USERS}
    return resolve(read_specs(spec_dir), people, prosody.muc_domain)


async def test_squatted_room_is_taken_over_whole(tmp_path: Path) -> None:
    async with started() as prosody:  # the harness MUC lets anyone create rooms
        room = f"e134@{prosody.muc_domain}"
        mallory = Person(prosody.jid("mallory"), prosody.c2s_port)
        ola = Person(prosody.jid("ola"), prosody.c2s_port)
        kari = Person(prosody.jid("kari"), prosody.c2s_port)
        for person in (mallory, ola, kari):
            await person.connect()
        await mallory.enter(room, "mallory")
        await mallory.set_room_config(
            room,
            {
                "muc#roomconfig_roomsecret": "squat",
                "muc#roomconfig_whois": "anyone",
                "muc#roomconfig_persistentroom": "1",
                "muc#roomconfig_changesubject": "1",
                "muc#roomconfig_historylength": "0",
            },
        )
        assert mallory.xmpp is not None
        subject = mallory.xmpp.make_message(mto=room, mtype="groupchat")
        subject["subject"] = "Prosjektet er flyttet: xmpp:e134@evil.test?join"
        subject.send()
        # planted before SAMTEK looks: the room echoes it to her
        await mallory.wait_message(
            lambda m: m["subject"] == subject["subject"], "the room's echo of her subject"
        )

        health = HealthReporter("rooms")
        async with reconciler(prosody, tmp_path, health) as rec:
            plan = await rec.plan(rooms(prosody, tmp_path), TODAY)
            print(plan.render())
            assert "squat" not in plan.render()  # the squatter's password is not printed
            assert TakeOver(room, (prosody.jid("mallory"),)) in plan.actions
            assert not (await rec.apply(plan)).failed

            config = await kari.room_config(room)
            assert config["muc#roomconfig_roomsecret"] == ""
            assert config["muc#roomconfig_whois"] == "moderators"
            assert config["muc#roomconfig_changesubject"] in ("", "0")
            assert config["muc#roomconfig_historylength"] == "20"
            assert config["muc#roomconfig_membersonly"] == "1"
            affiliations = await kari.affiliations(room)
            assert prosody.jid("mallory") not in affiliations
            assert affiliations[prosody.jid("ola")] == "member"

            # a member joins without a password, and sees no planted subject
            joined = await ola.enter(room, "ola")
            assert joined["type"] != "error", joined
            subjects = [m for m in ola.messages if m.xml.find("{jabber:client}subject") is not None]
            assert subjects and not subjects[-1]["subject"], subjects
            rejected = await mallory.enter(room, "mallory2")
            assert rejected["type"] == "error"

            assert any("taken over" in item for item in health.snapshot().item_errors)
            again = await rec.plan(rooms(prosody, tmp_path), TODAY)
            assert again.empty, again.render()
        for person in (mallory, ola, kari):
            await person.disconnect()


async def test_deploy_config_lets_only_samtek_create_project_rooms(tmp_path: Path) -> None:
    options = deploy_muc_options()
    assert "restrict_room_creation" in options
    async with started(options) as prosody:
        mallory = Person(prosody.jid("mallory"), prosody.c2s_port)
        await mallory.connect()
        refused = await mallory.enter(f"e134@{prosody.muc_domain}", "mallory")
        assert refused["type"] == "error"
        assert refused.xml.find(".//{urn:ietf:params:xml:ns:xmpp-stanzas}not-allowed") is not None

        async with reconciler(prosody, tmp_path, HealthReporter("rooms")) as rec:
            plan = await rec.plan(rooms(prosody, tmp_path), TODAY)
            assert not (await rec.apply(plan)).failed
            assert (await rec.plan(rooms(prosody, tmp_path), TODAY)).empty
        ola = Person(prosody.jid("ola"), prosody.c2s_port)
        await ola.connect()
        assert (await ola.enter(f"e134@{prosody.muc_domain}", "ola"))["type"] != "error"
        await ola.disconnect()
        await mallory.disconnect()
