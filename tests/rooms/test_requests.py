"""Room requests on a running service with real Prosody: a project leader's request waits
for an admin (status page, API), approval provisions the room and tells the requester in
their language, rejection tells the reason, and auto-approval needs no admin."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bridges.rooms.requests import room_id_for
from samtek.admin.context import RoomSpecConflict
from samtek.app import Service
from tests.conftest import RunningService
from tests.e2e.regions import write_config, write_ics
from tests.rooms.helpers import PASSWORD, WAIT, Person, rooms_prosody
from tests.rooms.test_admin_rooms import _affiliation, until


def test_room_ids_from_names() -> None:
    assert room_id_for("Ny skole Notodden") == "ny-skole-notodden"
    assert room_id_for("Bru over Åsælva – fase 2") == "bru-over-asaelva-fase-2"
    assert room_id_for("!!!") == "prosjekt"
    assert len(room_id_for("x" * 200)) <= 63


def texts(person: Person) -> list[str]:
    return [str(m["body"]) for m in person.messages if m["type"] in ("chat", "normal")]


async def test_request_approve_reject_and_auto_approval(
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
        token = secrets.token_urlsafe(16)
        (tmp_path / "admin.token").write_text(token)
        text = config.read_text().replace(
            f'id = "kari"\njid = "{prosody.jid("kari")}"',
            f'id = "kari"\njid = "{prosody.jid("kari")}"\nlanguage = "nn"',
        )
        config.write_text(
            text
            + f"""
[rooms]
spec_dir = "specs"
interval_seconds = 300
max_pending_requests_per_person = 2

[admin]
tokens = [{{ name = "ops", token = "file:{tmp_path / "admin.token"}", role = "admin" }}]
"""
        )
        (tmp_path / "specs").mkdir()
        running = samtek_service(config)
        service: Service = await running.start()
        stack.push_async_callback(running.stop)
        await asyncio.wait_for(service.web.wait_started(), WAIT)
        assert service.rooms is not None
        requests = service.rooms.requests
        kari = Person(prosody.jid("kari"), prosody.c2s_port)
        await kari.connect()
        stack.push_async_callback(kari.disconnect)
        people = service.directory.people()
        assert people["kari"].language == "nn"

        made = await requests.submit(people["kari"], "Ny skule Notodden", ["ola"], [])
        assert made.state == "pending" and made.spec["id"] == "ny-skule-notodden"
        await kari.wait_message(
            lambda m: "er send til administrator" in str(m["body"]), "request received (nn)"
        )
        other = await requests.submit(people["kari"], "Gamal idé", ["lise"], [])
        with pytest.raises(RoomSpecConflict, match="too many pending"):
            await requests.submit(people["kari"], "Ein til", [], [])

        base = f"{service.web.admin_url}/admin"
        headers = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession(headers=headers) as http:

            async def call(method: str, path: str, body: Any = None) -> tuple[int, Any]:
                async with http.request(method, base + path, json=body) as r:
                    return r.status, await r.json(content_type=None)

            status, listed = await call("GET", "/rooms/_requests")
            assert status == 200
            assert [(r["spec"]["name"], r["state"]) for r in listed["requests"]] == [
                ("Ny skule Notodden", "pending"),
                ("Gamal idé", "pending"),
            ]
            async with http.get(base + "/status") as response:
                page = await response.text()
            assert "Room requests waiting for approval: 2" in page

            status, body = await call("POST", f"/rooms/_requests/{made.id}/approve")
            assert status == 200 and body["state"] == "approved" and body["decided_by"] == "ops"
            room = f"ny-skule-notodden@{prosody.muc_domain}"
            await until(lambda: _affiliation(kari, room, prosody.jid("ola"), "member"), "room")
            await kari.wait_message(lambda m: "er oppretta" in str(m["body"]), "approved (nn)")
            status, _ = await call("POST", f"/rooms/_requests/{made.id}/approve")
            assert status == 409  # decided already

            status, body = await call("POST", f"/rooms/_requests/{other.id}/reject", {})
            assert status == 422  # a reason is required: the requester is told it
            status, body = await call(
                "POST", f"/rooms/_requests/{other.id}/reject", {"reason": "finst alt"}
            )
            assert status == 200 and body["state"] == "rejected"
            await kari.wait_message(lambda m: "vart avslått: finst alt" in str(m["body"]), "no")
            status, _ = await call("POST", "/rooms/_requests/nope/approve")
            assert status == 404
            status, audit = await call("GET", "/audit?actor=ops")
            actions = {(e["action"], e["outcome"]) for e in audit["entries"]}
            assert ("POST /admin/rooms/_requests/{id}/approve", "200") in actions
            assert ("POST /admin/rooms/_requests/{id}/reject", "200") in actions
        assert sum("vart avslått" in t for t in texts(kari)) == 1


async def test_auto_approved_municipality_needs_no_admin(
    samtek_service: type[RunningService], tmp_path: Path
) -> None:
    prosody = rooms_prosody()
    for user in ("kari", "ola"):
        prosody.add_user(user, PASSWORD)
    async with contextlib.AsyncExitStack() as stack:
        await prosody.start()
        stack.push_async_callback(prosody.stop)
        for user in ("kari", "ola"):
            write_ics(tmp_path / f"{user}.ics")
        feeds = {u: tmp_path / f"{u}.ics" for u in ("kari", "ola")}
        config = write_config(tmp_path, prosody, feeds)
        config.write_text(
            config.read_text()
            + '\n[rooms]\nspec_dir = "specs"\nauto_approve_municipalities = ["kongsberg"]\n'
        )
        (tmp_path / "specs").mkdir()
        service: Service = await samtek_service(config).start()
        assert service.rooms is not None
        kari = Person(prosody.jid("kari"), prosody.c2s_port)
        await kari.connect()
        stack.push_async_callback(kari.disconnect)
        made = await service.rooms.requests.submit(
            service.directory.people()["kari"], "Vei 2027", ["ola"], []
        )
        assert made.state == "approved" and made.decided_by == "auto-approval"
        room = f"vei-2027@{prosody.muc_domain}"
        await until(lambda: _affiliation(kari, room, prosody.jid("ola"), "member"), "room")
        await kari.wait_message(lambda m: "er opprettet" in str(m["body"]), "approved (nb)")
        assert not any("administrator" in t for t in texts(kari))
