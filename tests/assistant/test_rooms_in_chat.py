"""Project rooms through the assistant, on real Prosody with real clients: a room is
requested in chat (names from the directory, groups checked), and members address SAMTEK
inside a room ("SAMTEK: møte") and get the room's meetings there, in the room's language.
SAMTEK stays out of the rooms: mod_samtek_mention forwards only the addressed messages.
tests/ejabberd/rooms/test_rooms_in_chat_ejabberd.py runs the room commands on ejabberd
through the `mention_server` fixture."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from slixmpp.stanza import Message

from bridges.assistant.chat import NS_ROOM
from samtek.app import Service
from samtek.clock import Clock
from samtek.devserver.prosody import ProsodyServer
from tests.conftest import RunningService
from tests.e2e.regions import ics_meeting, write_config, write_ics
from tests.rooms.helpers import PASSWORD, WAIT, Person, RoomsProsody, rooms_prosody

USERS = ("kari", "ola", "lise")


def mention_prosody() -> RoomsProsody:
    """The deploy setup: mod_samtek_mention on the MUC component, forwarding to SAMTEK."""
    prosody = rooms_prosody()
    prosody.muc_options = (
        '\tmodules_enabled = { "muc_mam"; "samtek_mention" }\n'
        f'\tsamtek_mention_component = "{prosody.component_jid}"\n'
    )
    for user in USERS:
        prosody.add_user(user, PASSWORD)
    return prosody


@pytest.fixture
async def mention_server() -> AsyncIterator[RoomsProsody]:
    """The XMPP server of the room-command tests, not started (the tests start it)."""
    server = mention_prosody()
    try:
        yield server
    finally:
        await server.stop()
        server.cleanup()


# Two people called Per: "med per" must ask which one.
NAMESAKES = """
[[people]]
id = "per-as"
jid = "per.as@region.test"
name = "Per Ås"
municipality = "kongsberg"

[[people]]
id = "per-lie"
jid = "per.lie@region.test"
name = "Per Lie"
municipality = "kongsberg"
"""


def region(tmp_path: Path, prosody: RoomsProsody, rooms: str) -> Path:
    for user in USERS:
        write_ics(tmp_path / f"{user}.ics")
    feeds: dict[str, Path | str] = {u: tmp_path / f"{u}.ics" for u in USERS}
    config = write_config(tmp_path, prosody, feeds, extra_people=NAMESAKES)
    text = config.read_text().replace(
        f'id = "kari"\njid = "{prosody.jid("kari")}"',
        f'id = "kari"\njid = "{prosody.jid("kari")}"\nlanguage = "nn"',
    )
    config.write_text(text + rooms)
    (tmp_path / "specs").mkdir()
    return config


def say(person: Person, to: str, body: str, kind: str = "chat") -> None:
    assert person.xmpp is not None
    person.xmpp.send_message(mto=to, mbody=body, mtype=kind)  # type: ignore[arg-type]


def from_samtek(person: Person, room: str) -> list[Message]:
    return [
        m
        for m in person.messages
        if m["type"] == "groupchat" and str(m["from"]) == f"{room}/SAMTEK"
    ]


@pytest.mark.clock_sensitive
async def test_members_address_samtek_in_the_room(
    samtek_service: type[RunningService], tmp_path: Path, clock: Clock, mention_server: RoomsProsody
) -> None:
    prosody = mention_server
    async with contextlib.AsyncExitStack() as stack:
        await prosody.start()
        stack.push_async_callback(prosody.stop)
        room = f"vei@{prosody.muc_domain}"
        start = (clock.now() + timedelta(days=1)).replace(microsecond=0)
        feed = tmp_path / "vei.ics"
        write_ics(feed, ics_meeting("m1", start, start + timedelta(hours=1)))
        config = region(tmp_path, prosody, '\n[rooms]\nspec_dir = "specs"\n')
        (tmp_path / "specs" / "vei.toml").write_text(
            'id = "vei"\nname = "Veiprosjekt"\nowners = ["kari"]\nmembers = ["ola"]\n'
            f'language = "nn"\ncalendar = {{ source = "feeds", address = "{feed}" }}\n'
        )
        running = samtek_service(config, clock)
        service: Service = await running.start()
        stack.push_async_callback(running.stop)

        async def first_pass() -> None:
            rooms = service.rooms
            while rooms is None or rooms.passes < 1 or "vei" not in rooms.meetings.meetings:
                await asyncio.sleep(0.02)

        await asyncio.wait_for(first_pass(), WAIT)
        ola = Person(prosody.jid("ola"), prosody.c2s_port)  # bokmål; the room is nynorsk
        await ola.connect()
        stack.push_async_callback(ola.disconnect)
        joined = await ola.enter(room, "ola")
        assert joined["type"] != "error"
        # SAMTEK is no occupant: the occupant list, sent before ola's own presence, lacks it.
        assert not any(str(p["from"]) == f"{room}/SAMTEK" for p in ola.presences)

        say(ola, room, "møter i dag, nokon?", "groupchat")  # not addressed: SAMTEK stays quiet
        say(ola, room, "SAMTEK: møte", "groupchat")
        say(ola, room, "@samtek neste møte", "groupchat")
        await ola.wait_message(lambda _: len(from_samtek(ola, room)) >= 2, "two answers")
        answers = [str(m["body"]) for m in from_samtek(ola, room)]
        assert len(answers) == 2
        for answer in answers:
            lines = answer.splitlines()
            assert lines[0] == "Neste møte:"  # the room's language (nynorsk), not ola's
            assert len(lines) == 2 and lines[1].endswith("Prosjektmøte")

        if isinstance(prosody, ProsodyServer):
            # mod_samtek_deliver posts for SAMTEK: the room never announced it. (ejabberd has
            # no such module: SAMTEK enters, posts and leaves.)
            assert not any(str(p["from"]) == f"{room}/SAMTEK" for p in ola.presences)
        # Only a managed room's service forwards room commands: a person cannot forge one
        # (Prosody stamps their own JID as the sender). Answers go out in order, so the
        # direct answer after it shows that nothing was posted in the room for it.
        assert ola.xmpp is not None
        forged = ola.xmpp.make_message(mto=prosody.component_jid, mtype="normal")
        ET.SubElement(forged.xml, f"{{{NS_ROOM}}}addressed", jid=prosody.jid("kari")).text = "møte"
        forged.send()
        # A direct chat still says the command belongs in a room (in ola's language).
        say(ola, prosody.component_jid, "møter")
        await ola.wait_message(
            lambda m: "virker bare i et prosjektrom" in str(m["body"]), "not in a room"
        )
        assert len(from_samtek(ola, room)) == 2


async def test_a_room_is_requested_in_chat(
    samtek_service: type[RunningService], tmp_path: Path
) -> None:
    prosody = mention_prosody()
    async with contextlib.AsyncExitStack() as stack:
        await prosody.start()
        stack.push_async_callback(prosody.stop)
        rooms = '\n[rooms]\nspec_dir = "specs"\ngroups = { plan-bygg = ["lise"] }\n'
        config = region(tmp_path, prosody, rooms)
        running = samtek_service(config)
        service: Service = await running.start()
        stack.push_async_callback(running.stop)
        assert service.rooms is not None
        kari = Person(prosody.jid("kari"), prosody.c2s_port)  # nynorsk
        await kari.connect()
        stack.push_async_callback(kari.disconnect)
        samtek = prosody.component_jid

        say(kari, samtek, "opprett prosjektrom «Ny skule Notodden» med ola og gruppa plan-bygg")
        await kari.wait_message(
            lambda m: "er send til administrator" in str(m["body"]), "request received (nn)"
        )
        (request,) = await service.rooms.requests.list()
        assert request.state == "pending" and request.requester == "kari"
        assert request.spec["name"] == "Ny skule Notodden"
        assert request.spec["members"] == ["ola"] and request.spec["groups"] == ["plan-bygg"]

        say(kari, samtek, "opprett prosjektrom «Anna» med ola og gruppa finst-ikkje")
        await kari.wait_message(
            lambda m: str(m["body"]) == "Eg finn inga gruppe som heiter «finst-ikkje».",
            "unknown group",
        )
        say(kari, samtek, "opprett prosjektrom «Tredje» med Nobody Atall")
        await kari.wait_message(lambda m: "Eg finn ingen som heiter" in str(m["body"]), "nobody")
        say(kari, samtek, "opprett prosjektrom «Fjerde» med per")
        await kari.wait_message(
            lambda m: (
                str(m["body"]).startswith("Meinte du Per")
                and "Per Ås (Kongsberg kommune)" in str(m["body"])
                and "Per Lie (Kongsberg kommune)" in str(m["body"])
            ),
            "which Per",
        )
        assert len(await service.rooms.requests.list()) == 1


async def test_auto_approved_room_answers_in_the_room(
    samtek_service: type[RunningService], tmp_path: Path, mention_server: RoomsProsody
) -> None:
    """Request in English from a bokmål user's municipality with auto-approval: the room is
    made at once, and its members can address SAMTEK in it (no calendar: no meetings)."""
    prosody = mention_server
    async with contextlib.AsyncExitStack() as stack:
        await prosody.start()
        stack.push_async_callback(prosody.stop)
        rooms = '\n[rooms]\nspec_dir = "specs"\nauto_approve_municipalities = ["kongsberg"]\n'
        running = samtek_service(region(tmp_path, prosody, rooms))
        await running.start()
        stack.push_async_callback(running.stop)
        ola = Person(prosody.jid("ola"), prosody.c2s_port)  # bokmål
        await ola.connect()
        stack.push_async_callback(ola.disconnect)

        say(ola, prosody.component_jid, 'create project room "Road 2027" with Lise')
        await ola.wait_message(
            lambda m: str(m["body"]).startswith("Prosjektrommet «Road 2027» er opprettet"),
            "approved at once (nb)",
        )
        room = f"road-2027@{prosody.muc_domain}"

        # Provisioned: ola's invitation is the last step, after lise became a member (the
        # room list alone is set before the pass applies it; ejabberd lets lise in at once).
        await ola.wait_message(
            lambda m: m.xml.find(f"{{jabber:x:conference}}x[@jid='{room}']") is not None,
            "invitation",
        )
        lise = Person(prosody.jid("lise"), prosody.c2s_port)
        await lise.connect()
        stack.push_async_callback(lise.disconnect)
        assert (await lise.enter(room, "lise"))["type"] != "error"
        say(lise, room, "SAMTEK, møter", "groupchat")
        answer = await lise.wait_message(lambda m: m in from_samtek(lise, room), "answer")
        assert str(answer["body"]) == "Ingen kommende møter."
