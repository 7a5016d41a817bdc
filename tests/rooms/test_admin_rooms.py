"""Room specs through the admin API on a running service with real Prosody: created specs are
provisioned by the daemon, file-owned rooms are refused with 409, invalid specs get 422 naming
the field, deletion archives the room, and every write is in the audit log."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from pathlib import Path
from typing import Any

import aiohttp
from slixmpp.exceptions import IqError

from samtek.app import Service
from samtek.devserver.process import free_port
from tests.conftest import RunningService
from tests.e2e.regions import write_config, write_ics
from tests.rooms.helpers import PASSWORD, WAIT, Person, rooms_prosody
from tests.rooms.test_cli import samtek

FILE_SPEC = """
id = "fil"
name = "Rom fra fil"
owners = ["kari"]
"""


async def until(check: Any, what: str) -> None:
    for _ in range(int(WAIT / 0.1)):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out: {what}")


async def test_room_specs_through_the_admin_api(
    samtek_service: type[RunningService], tmp_path: Path
) -> None:
    prosody = rooms_prosody()
    for user in ("kari", "ola", "lise"):
        prosody.add_user(user, PASSWORD)
    async with contextlib.AsyncExitStack() as stack:
        await prosody.start()
        stack.push_async_callback(prosody.stop)
        for user in ("kari", "ola", "lise"):
            write_ics(tmp_path / f"{user}.ics")
        config = write_config(
            tmp_path, prosody, {u: tmp_path / f"{u}.ics" for u in ("kari", "ola", "lise")}
        )
        token, reader = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        (tmp_path / "admin.token").write_text(token)
        (tmp_path / "read.token").write_text(reader)
        config.write_text(
            config.read_text()
            + f"""
[rooms]
spec_dir = "specs"
interval_seconds = 300

[admin]
tokens = [
  {{ name = "ops", token = "file:{tmp_path / "admin.token"}", role = "admin" }},
  {{ name = "viewer", token = "file:{tmp_path / "read.token"}", role = "read" }},
]
"""
        )
        (tmp_path / "specs").mkdir()
        (tmp_path / "specs" / "fil.toml").write_text(FILE_SPEC)
        running = samtek_service(config)
        service: Service = await running.start()
        stack.push_async_callback(running.stop)
        await asyncio.wait_for(service.web.wait_started(), WAIT)
        base = f"{service.web.admin_url}/admin"
        admin = {"Authorization": f"Bearer {token}"}
        kari = Person(prosody.jid("kari"), prosody.c2s_port)
        await kari.connect()
        stack.push_async_callback(kari.disconnect)
        room = f"skole@{prosody.muc_domain}"

        async with aiohttp.ClientSession() as http:

            async def call(method: str, path: str, body: Any = None) -> tuple[int, Any]:
                async with http.request(method, base + path, json=body, headers=admin) as r:
                    return r.status, await r.json()

            status, listed = await call("GET", "/rooms")
            assert status == 200
            assert [(r["id"], r["owner"]) for r in listed["rooms"]] == [("fil", "file")]

            # invalid: each error names its field; unknown person resolved like a spec file
            status, body = await call("POST", "/rooms", {"id": "Skole!", "name": "x"})
            assert status == 422
            assert [f["field"] for f in body["fields"]] == ["id"]
            status, body = await call(
                "POST", "/rooms", {"id": "skole", "name": "Ny skole", "owners": ["nobody"]}
            )
            assert status == 422
            assert body["fields"][0]["field"] == "owners[0]"
            assert "nobody" in body["fields"][0]["message"]

            # a file-owned room cannot be created, replaced or deleted through the API
            file_room = {"id": "fil", "name": "x", "owners": ["kari"]}
            status, body = await call("POST", "/rooms", file_room)
            assert status == 409 and "fil.toml" in body["error"]
            status, body = await call("PUT", "/rooms/fil", {"name": "x", "owners": ["kari"]})
            assert status == 409 and "edit that file" in body["error"]
            status, body = await call("DELETE", "/rooms/fil")
            assert status == 409

            # created through the API: provisioned by the daemon at once
            spec = {"id": "skole", "name": "Ny skole Notodden", "owners": ["kari"],
                    "members": ["ola"], "language": "nn"}  # fmt: skip
            status, body = await call("POST", "/rooms", spec)
            assert status == 201, body
            assert body["owner"] == "api" and body["spec"]["language"] == "nn"
            await until(lambda: _affiliation(kari, room, prosody.jid("ola"), "member"), "room made")
            status, body = await call("POST", "/rooms", spec)
            assert status == 409

            # replaced: lise added
            status, body = await call("PUT", "/rooms/skole", {**spec, "members": ["ola", "lise"]})
            assert status == 200, body
            await until(
                lambda: _affiliation(kari, room, prosody.jid("lise"), "member"), "lise added"
            )
            status, body = await call("PUT", "/rooms/skole", {**spec, "id": "annet"})
            assert status == 422 and body["fields"][0]["field"] == "id"
            status, body = await call("GET", "/rooms/skole")
            assert status == 200 and body["spec"]["members"] == ["ola", "lise"]
            status, _ = await call("GET", "/rooms/finnes-ikke")
            assert status == 404

            # a read token may list, not write
            async with http.post(
                base + "/rooms", json=spec, headers={"Authorization": f"Bearer {reader}"}
            ) as response:
                assert response.status == 403

            # deleted: archived by the daemon (closed to members, history kept)
            status, body = await call("DELETE", "/rooms/skole")
            assert status == 200 and "end" in body["spec"]
            await until(lambda: _affiliation(kari, room, prosody.jid("ola"), None), "ola removed")
            assert (await kari.room_config(room))["muc#roomconfig_moderatedroom"] in ("1", "true")
            status, _ = await call("DELETE", "/rooms/finnes-ikke")
            assert status == 404

            status, audit = await call("GET", "/audit?actor=ops&limit=100")
        actions = [(e["action"], e["outcome"]) for e in audit["entries"]]
        assert ("POST /admin/rooms", "201") in actions
        assert ("PUT /admin/rooms/{id}", "200") in actions
        assert ("DELETE /admin/rooms/{id}", "200") in actions
        assert ("POST /admin/rooms", "409") in actions


async def _affiliation(owner: Person, room: str, jid: str, wanted: str | None) -> bool:
    try:
        found = await owner.affiliations(room)
    except IqError:  # the room does not exist yet
        return False
    return found.get(jid) == wanted


async def test_plan_against_the_running_service(
    samtek_service: type[RunningService], tmp_path: Path
) -> None:
    """`samtek rooms plan` while the service runs (one connection per component JID): the CLI
    asks the service, which plans against the live MUC; `apply` is refused with the reason."""
    prosody = rooms_prosody()
    for user in ("kari", "ola"):
        prosody.add_user(user, PASSWORD)
    async with contextlib.AsyncExitStack() as stack:
        await prosody.start()
        stack.push_async_callback(prosody.stop)
        config = write_config(tmp_path, prosody, {"kari": "k.ics", "ola": "o.ics"})
        token = secrets.token_urlsafe(16)
        (tmp_path / "admin.token").write_text(token)
        text = config.read_text().replace(
            "[http]\nport = 0", f"[http]\nport = {free_port()}\nadmin_port = {free_port()}"
        )
        config.write_text(
            text
            + f"""
[rooms]
spec_dir = "specs"
interval_seconds = 300

[admin]
tokens = [{{ name = "ops", token = "file:{tmp_path / "admin.token"}", role = "admin" }}]
"""
        )
        (tmp_path / "specs").mkdir()
        (tmp_path / "specs" / "fil.toml").write_text(FILE_SPEC)
        running = samtek_service(config)
        service = await running.start()
        stack.push_async_callback(running.stop)
        await asyncio.wait_for(service.web.wait_started(), WAIT)
        kari = Person(prosody.jid("kari"), prosody.c2s_port)
        await kari.connect()
        stack.push_async_callback(kari.disconnect)
        room = f"fil@{prosody.muc_domain}"
        await until(lambda: _affiliation(kari, room, prosody.jid("kari"), "owner"), "room made")

        # drift made by hand: the running service's plan shows it, and applies nothing
        await kari.set_room_config(room, {"muc#roomconfig_roomname": "Endret"})
        code, out, err = await samtek("rooms", "plan", "--config", str(config))
        assert code == 0, err
        assert f"~ configure {room}: roomconfig_roomname: 'Endret' -> 'Rom fra fil'" in out
        assert "1 change(s)" in out and "planned by the running service" in err
        assert (await kari.room_config(room))["muc#roomconfig_roomname"] == "Endret"

        code, out, err = await samtek("rooms", "apply", "--config", str(config))
        assert code == 2 and "the service is running" in err
