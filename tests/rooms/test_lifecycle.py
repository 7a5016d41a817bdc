"""Room lifecycle against a real Prosody: nothing before the start date, archived (notice,
moderated, owners only) after the end date, destroyed after retention only when allowed."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from bridges.rooms.plan import ArchiveNotice, Destroy, Note
from samtek.devserver.prosody import ProsodyServer
from samtek.store import open_store
from tests.rooms.helpers import Person
from tests.rooms.test_reconcile import load, reconciler, server  # noqa: F401 (fixture)

SPECS = """
[[rooms]]
id = "fase"
name = "Forprosjekt"
owners = ["kari"]
members = ["ola"]
start = 2026-01-01
end = 2026-03-31

[[rooms]]
id = "slett"
name = "Kortvarig"
owners = ["kari"]
members = ["ola"]
start = 2026-01-01
end = 2026-03-31
destroy_history_on_retention = true
"""


async def test_pending_archive_and_retention(server: ProsodyServer, tmp_path: Path) -> None:  # noqa: F811
    fase, slett = f"fase@{server.muc_domain}", f"slett@{server.muc_domain}"
    rooms = load(server, tmp_path / "specs", SPECS)
    kari = Person(server.jid("kari"), server.c2s_port)
    ola = Person(server.jid("ola"), server.c2s_port)
    await kari.connect()
    await ola.connect()
    async with reconciler(server, tmp_path) as rec, open_store("sqlite:///:memory:") as store:
        rec.store = store
        assert (await rec.plan(rooms, date(2025, 12, 1))).empty  # before the start: nothing

        assert not (await rec.apply(await rec.plan(rooms, date(2026, 2, 1)))).failed
        ola.join(fase, "ola")
        await ola.wait_message(lambda m: m["from"].bare == fase, "the room's subject on join")

        archive = await rec.plan(rooms, date(2026, 4, 2))
        assert {i.room for i in archive.actions if isinstance(i, ArchiveNotice)} == {fase, slett}
        assert not (await rec.apply(archive)).failed
        notice = await ola.wait_message(
            lambda m: m["type"] == "groupchat" and "arkivert" in m["body"], "archive notice"
        )
        assert notice["from"].bare == fase
        assert (await kari.room_config(fase))["muc#roomconfig_moderatedroom"] == "1"
        # only owners remain (the component created the room and stays its owner)
        assert await kari.affiliations(fase) == {
            server.jid("kari"): "owner",
            server.component_jid: "owner",
        }
        assert (await rec.plan(rooms, date(2026, 4, 3))).empty

        # 90 days of retention later: the room with history is kept unless the spec allows
        expired = await rec.plan(rooms, date(2026, 7, 1))
        assert [i for i in expired.actions if isinstance(i, Destroy)] == [
            Destroy(slett, "retention over")
        ]
        assert any(isinstance(i, Note) and i.room == fase for i in expired.items)
        assert not (await rec.apply(expired)).failed
        assert (await kari.room_config(fase))["muc#roomconfig_roomname"] == "Forprosjekt"
        assert await kari.gone_condition(slett) in ("gone", "item-not-found")
        assert (await rec.plan(rooms, date(2026, 7, 2))).empty
    await kari.disconnect()
    await ola.disconnect()
