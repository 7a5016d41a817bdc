"""The rooms reconciler against ejabberd: tests/rooms/test_reconcile.py and test_lifecycle.py
run unchanged through a `server` fixture that starts ejabberd with mod_samtek_rooms (create,
configure, affiliations, invitations and bookmarks, drift repair, a no-op second plan,
archive and retention), once with the harness's MUC settings and once with those of
deploy/ejabberd/README.md."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from slixmpp.exceptions import IqError

from bridges.rooms.spec import Room
from samtek.devserver.ejabberd import EjabberdServer
from samtek.xmpp.muc import NS_DISCO_INFO
from tests.ejabberd.test_readme import yaml_blocks
from tests.rooms.helpers import PASSWORD, Person
from tests.rooms.test_lifecycle import test_pending_archive_and_retention  # noqa: F401
from tests.rooms.test_reconcile import (  # noqa: F401 (run here against ejabberd)
    SPECS,
    TODAY,
    USERS,
    load,
    reconciler,
    test_apply_creates_repairs_and_is_idempotent,
)


def readme_muc() -> dict[str, object]:
    """The MUC settings of deploy/ejabberd/README.md, on the harness's MUC host."""
    block = yaml_blocks()[1]["modules"]
    return {**block, "mod_muc": {**block["mod_muc"], "host": "conference.@HOST@"}}


@pytest.fixture(params=["harness", "readme"])
async def server(request: pytest.FixtureRequest) -> AsyncIterator[EjabberdServer]:
    """ejabberd with the harness's MUC (anyone may create rooms) or the README's."""
    extra = readme_muc() if request.param == "readme" else {}
    ejabberd = EjabberdServer(rooms=True, extra_modules=extra)
    for user in USERS:
        ejabberd.add_user(user, PASSWORD)
    try:
        await ejabberd.start()
        yield ejabberd
    finally:
        await ejabberd.stop()
        ejabberd.cleanup()


async def test_plan_does_not_create_rooms(server: EjabberdServer, tmp_path: Path) -> None:
    """A plan only looks: before this fix the owner query created each room on ejabberd
    (and the affiliation queries then went unanswered)."""
    rooms: list[Room] = load(server, tmp_path / "specs", SPECS)  # type: ignore[arg-type]
    kari = Person(server.jid("kari"), server.c2s_port)
    await kari.connect()
    try:
        async with reconciler(server, tmp_path) as rec:  # type: ignore[arg-type]
            first = await rec.plan(rooms, TODAY)
            second = await rec.plan(rooms, TODAY)
        assert first.render() == second.render()
        for room in rooms:
            with pytest.raises(IqError) as missing:
                await kari.iq(room.jid, "get", ET.Element(f"{{{NS_DISCO_INFO}}}query"))
            assert missing.value.condition == "item-not-found", room.jid
    finally:
        await kari.disconnect()


async def test_created_room_has_ejabberds_archiving_and_invite_fields(
    server: EjabberdServer, tmp_path: Path
) -> None:
    """The managed defaults under ejabberd's names: `mam` on, members may not invite."""
    rooms: list[Room] = load(server, tmp_path / "specs", SPECS)  # type: ignore[arg-type]
    kari = Person(server.jid("kari"), server.c2s_port)
    await kari.connect()
    try:
        async with reconciler(server, tmp_path) as rec:  # type: ignore[arg-type]
            assert not (await rec.apply(await rec.plan(rooms, TODAY))).failed
            e134 = f"e134@{server.muc_domain}"
            config = await kari.room_config(e134)
            assert config["mam"] == "1"
            assert config["muc#roomconfig_allowinvites"] == "0"
            assert config["muc#roomconfig_moderatedroom"] == "0"
            assert config["muc#roomconfig_changesubject"] == "0"
            # someone turns archiving off: drift, repaired, then nothing to do
            await kari.set_room_config(e134, {"mam": "0"})
            drift = await rec.plan(rooms, TODAY)
            assert "mam: '0' -> '1'" in drift.render(), drift.render()
            assert not (await rec.apply(drift)).failed
            assert (await kari.room_config(e134))["mam"] == "1"
            assert (await rec.plan(rooms, TODAY)).empty
    finally:
        await kari.disconnect()


async def test_readme_muc_lets_only_samtek_create_rooms(tmp_path: Path) -> None:
    """The README's `access_create`: SAMTEK's component creates project rooms (the bare
    `access_create: samtek` it had before named a missing access rule and denied everyone),
    an ordinary user creates none."""
    server = EjabberdServer(rooms=True, extra_modules=readme_muc())
    for user in USERS:
        server.add_user(user, PASSWORD)
    async with server:
        rooms: list[Room] = load(server, tmp_path / "specs", SPECS)  # type: ignore[arg-type]
        async with reconciler(server, tmp_path) as rec:  # type: ignore[arg-type]
            assert not (await rec.apply(await rec.plan(rooms, TODAY))).failed
        kari = Person(server.jid("kari"), server.c2s_port)
        await kari.connect()
        try:
            answer = await kari.enter(f"kari-sitt@{server.muc_domain}", "kari")
            assert answer["type"] == "error"
            assert answer["error"]["condition"] in ("not-allowed", "forbidden")
        finally:
            await kari.disconnect()
