"""A project room's address taken first by a user (possible on an ejabberd MUC where users
may create rooms, as the harness's): SAMTEK takes the room over whole, as on Prosody
(tests/rooms/test_squatting.py), with ejabberd's form fields. One difference is pinned
below: the take-over does not stick on ejabberd."""

from __future__ import annotations

from pathlib import Path

from bridges.rooms.plan import TakeOver
from samtek.devserver.ejabberd import EjabberdServer
from samtek.health import HealthReporter
from tests.rooms.helpers import PASSWORD, Person
from tests.rooms.test_squatting import TODAY, USERS, reconciler, rooms


async def test_squatted_room_is_taken_over_whole(tmp_path: Path) -> None:
    server = EjabberdServer(rooms=True)
    for user in USERS:
        server.add_user(user, PASSWORD)
    async with server:
        room = f"e134@{server.muc_domain}"
        mallory = Person(server.jid("mallory"), server.c2s_port)
        ola = Person(server.jid("ola"), server.c2s_port)
        kari = Person(server.jid("kari"), server.c2s_port)
        for person in (mallory, ola, kari):
            await person.connect()
        await mallory.enter(room, "mallory")
        await mallory.set_room_config(
            room,
            {
                "muc#roomconfig_passwordprotectedroom": "1",
                "muc#roomconfig_roomsecret": "squat",
                "muc#roomconfig_whois": "anyone",
                "muc#roomconfig_persistentroom": "1",
                "muc#roomconfig_changesubject": "1",
                "muc#roomconfig_allowinvites": "1",
                "mam": "0",
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
        async with reconciler(server, tmp_path, health) as rec:  # type: ignore[arg-type]
            plan = await rec.plan(rooms(server, tmp_path), TODAY)  # type: ignore[arg-type]
            print(plan.render())
            assert "squat" not in plan.render()  # the squatter's password is not printed
            assert TakeOver(room, (server.jid("mallory"),)) in plan.actions
            assert not (await rec.apply(plan)).failed

            config = await kari.room_config(room)
            assert config["muc#roomconfig_passwordprotectedroom"] == "0"
            assert config["muc#roomconfig_roomsecret"] == ""
            assert config["muc#roomconfig_whois"] == "moderators"
            assert config["muc#roomconfig_changesubject"] == "0"
            assert config["muc#roomconfig_allowinvites"] == "0"
            assert config["mam"] == "1"
            assert config["muc#roomconfig_membersonly"] == "1"
            affiliations = await kari.affiliations(room)
            assert server.jid("mallory") not in affiliations
            assert affiliations[server.jid("ola")] == "member"

            # a member joins without a password, and sees no planted subject
            joined = await ola.enter(room, "ola")
            assert joined["type"] != "error", joined
            subjects = [m for m in ola.messages if m.xml.find("{jabber:client}subject") is not None]
            assert subjects and not subjects[-1]["subject"], subjects
            rejected = await mallory.enter(room, "mallory2")
            assert rejected["type"] == "error"

            assert any("taken over" in item for item in health.snapshot().item_errors)
            # Unlike Prosody, the next plan takes it over again: ejabberd counts a MUC admin
            # as owner of every room and ignores SAMTEK's request to become one, so the
            # owner list never shows the component (deploy/ejabberd/README.md).
            again = await rec.plan(rooms(server, tmp_path), TODAY)  # type: ignore[arg-type]
            assert again.actions == [TakeOver(room, (server.jid("kari"),))], again.render()
        for person in (mallory, ola, kari):
            await person.disconnect()
