"""A room's members come from the directory as it is now: a person a directory source adds
while the service runs becomes a member at once (real Prosody MUC, file directory)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from slixmpp.exceptions import IqError

from samtek.devserver.prosody import ProsodyServer
from tests.conftest import RunningService
from tests.e2e.regions import write_config, write_ics
from tests.rooms.helpers import PASSWORD, WAIT, Person, rooms_prosody

SPEC = """
id = "vei"
name = "Veiprosjekt"
owners = ["kari"]
members = ["nina"]
"""


async def test_a_person_added_to_the_directory_becomes_a_member(
    samtek_service: type[RunningService], tmp_path: Path
) -> None:
    prosody = rooms_prosody()
    for user in ("kari", "nina"):
        prosody.add_user(user, PASSWORD)
    async with contextlib.AsyncExitStack() as stack:
        await prosody.start()
        stack.push_async_callback(stopped, prosody)
        room = f"vei@{prosody.muc_domain}"
        write_ics(tmp_path / "kari.ics")
        people = tmp_path / "people.csv"
        people.write_text("id,jid,name,municipality\n")
        config = write_config(tmp_path, prosody, {"kari": tmp_path / "kari.ics"})
        config.write_text(
            config.read_text()
            + f"""
[connectors.staff]
type = "directory_file"
path = "{people}"

[rooms]
spec_dir = "specs"
interval_seconds = 3600
"""
        )
        (tmp_path / "specs").mkdir()
        (tmp_path / "specs" / "vei.toml").write_text(SPEC)
        running = samtek_service(config)
        service = await running.start()
        stack.push_async_callback(running.stop)  # before Prosody stops
        kari = Person(prosody.jid("kari"), prosody.c2s_port)
        await kari.connect()
        stack.push_async_callback(kari.disconnect)
        async with asyncio.timeout(WAIT):
            while service.rooms is None or service.rooms.passes < 1:
                await asyncio.sleep(0.05)
        assert service.directory.person("nina") is None

        people.write_text(
            f"id,jid,name,municipality\nnina,{prosody.jid('nina')},Nina Lund,kongsberg\n"
        )

        async def affiliation() -> str | None:
            try:
                return (await kari.affiliations(room)).get(prosody.jid("nina"))
            except IqError:  # item-not-found: the room waits for its members to be known
                return None

        async with asyncio.timeout(WAIT):  # not the hour-long interval: the change wakes it
            while await affiliation() != "member":
                await asyncio.sleep(0.1)


async def stopped(prosody: ProsodyServer) -> None:
    await prosody.stop()
    prosody.cleanup()
