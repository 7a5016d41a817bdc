"""The admin API on a running service: auth (401/403), validation (422), reads, resync, audit."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from tests.admin.conftest import AdminRegion, get_json


async def test_tokens_are_required_and_read_tokens_cannot_write(
    admin_region: AdminRegion,
) -> None:
    base = admin_region.base
    async with aiohttp.ClientSession() as http:
        for path in ("/admin/people", "/admin/connectors", "/admin/audit", "/admin/nowhere"):
            async with http.get(base + path) as response:
                assert response.status == 401, path
                assert response.headers["WWW-Authenticate"].startswith("Bearer")
        wrong = admin_region.auth("not-a-token-of-ours")
        async with http.get(base + "/admin/people", headers=wrong) as response:
            assert response.status == 401
        async with http.post(base + "/admin/resync", json={}) as response:
            assert response.status == 401

        status, people = await get_json(http, base + "/admin/people", admin_region.reader)
        assert status == 200 and people["total"] == 2
        async with http.post(
            base + "/admin/resync", json={}, headers=admin_region.reader
        ) as response:
            assert response.status == 403
            assert "may only read" in (await response.json())["error"]

        # Probes and the spec are open.
        status, live = await get_json(http, base + "/admin/health/live")
        assert status == 200 and live == {"live": True}
        async with http.get(base + "/admin/openapi.json") as response:
            assert response.status == 200
            assert (await response.json())["openapi"].startswith("3.")

        # The denied write is in the audit log, with who tried.
        status, audit = await get_json(http, base + "/admin/audit?actor=viewer", admin_region.admin)
        assert status == 200
        entries = audit["entries"]
        assert isinstance(entries, list) and entries
        assert entries[0]["action"] == "POST /admin/resync"
        assert entries[0]["outcome"] == "denied"


async def test_invalid_input_is_422_naming_the_field(admin_region: AdminRegion) -> None:
    base, admin = admin_region.base, admin_region.admin
    async with aiohttp.ClientSession() as http:
        status, body = await get_json(http, base + "/admin/people?limit=0", admin)
        assert status == 422
        assert [f["field"] for f in body["fields"]] == ["limit"]
        assert "limit" in str(body["error"])

        status, body = await get_json(http, base + "/admin/audit?since=yesterday", admin)
        assert status == 422 and "since" in str(body["error"])

        status, body = await get_json(http, base + "/admin/people?colour=red", admin)
        assert status == 422 and "colour" in str(body["error"])

        async with http.post(
            base + "/admin/resync", json={"connectors": ["nope"]}, headers=admin
        ) as response:
            assert response.status == 422
            body = await response.json()
            assert body["fields"][0]["field"] == "connectors[0]"
            assert "unknown connector" in body["fields"][0]["message"]

        async with http.post(
            base + "/admin/resync", json={"connectors": ["feeds"]}, headers=admin
        ) as response:
            assert response.status == 422  # the ICS connector does not implement resync()
            assert "cannot resync" in (await response.json())["fields"][0]["message"]

        async with http.post(
            base + "/admin/resync", json={"wait_seconds": "soon"}, headers=admin
        ) as response:
            assert response.status == 422
            assert (await response.json())["fields"][0]["field"] == "wait_seconds"

        async with http.post(base + "/admin/resync", data=b"{not json", headers=admin) as response:
            assert response.status == 400


async def test_people_presence_connectors_and_resync(admin_region: AdminRegion) -> None:
    base, admin = admin_region.base, admin_region.admin
    async with aiohttp.ClientSession() as http:
        status, people = await get_json(http, base + "/admin/people?q=kari", admin)
        assert status == 200 and people["total"] == 1
        status, kari = await get_json(http, base + "/admin/people/kari", admin)
        assert status == 200 and kari["municipality"] == "kongsberg"
        status, _ = await get_json(http, base + "/admin/people/nobody", admin)
        assert status == 404

        # The presence bridge's explanation: kari is in the ICS meeting right now.
        explanation: Any = {}
        for _ in range(100):
            status, explanation = await get_json(http, base + "/admin/people/kari/presence", admin)
            if explanation.get("effective"):
                break
            await asyncio.sleep(0.1)
        assert status == 200
        effective = explanation["effective"]
        assert isinstance(effective, dict) and effective["kind"] == "IN_MEETING"
        assert effective["show"] == "dnd"
        assert "IN_MEETING" in str(explanation["explanation"])

        status, parts = await get_json(http, base + "/admin/connectors", admin)
        by_name = {p["name"]: p for p in parts["parts"]}
        staff = by_name["connector:staff"]
        assert staff["state"] == "failing" and staff["resyncable"] is True
        assert "every server" in staff["last_error"] and staff["next_retry"] is not None
        assert by_name["connector:feeds"]["state"] == "ok"

        # A resync of a connector that cannot reach its server does not finish in time.
        since = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
        async with http.post(
            base + "/admin/resync",
            json={"connectors": ["staff"], "wait_seconds": 0.2},
            headers=admin,
        ) as response:
            assert response.status == 202
            assert (await response.json())["results"] == {"staff": "pending"}
        async with http.get(
            base + "/admin/audit", params={"since": since, "actor": "ops"}, headers=admin
        ) as response:
            entries = (await response.json())["entries"]
        assert entries[0]["action"] == "POST /admin/resync"
        assert entries[0]["outcome"] == "202"
        assert entries[0]["details"]["results"] == {"staff": "pending"}

        async with http.get(base + "/metrics") as response:
            text = await response.text()
        assert 'samtek_part_state{part="connector:staff",state="failing"} 1.0' in text
        assert "samtek_bus_queue_depth" in text and 'samtek_people{source="config"} 2.0' in text
        assert "samtek_reconcile_seconds_count 1.0" in text
        assert 'samtek_stanzas_sent_total{kind="iq"}' in text


async def test_audit_cli_reads_the_same_log(admin_region: AdminRegion) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(
            admin_region.base + "/admin/resync",
            json={"connectors": ["staff"], "wait_seconds": 0},
            headers=admin_region.admin,
        ) as response:
            assert response.status == 202
        async with http.delete(
            admin_region.base + "/admin/rooms/x", headers=admin_region.reader
        ) as response:
            assert response.status == 403
    # The CLI loads the config with the installed connector types only: drop the LDAP one.
    config = (admin_region.directory / "samtek.toml").read_text()
    cli_config = admin_region.directory / "cli.toml"
    cli_config.write_text(config.split("[connectors.staff]")[0])
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "samtek.cli", "audit", "--config", str(cli_config), "--json",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    entries = [json.loads(line) for line in out.decode().splitlines()]
    assert [(e["actor"], e["action"], e["outcome"]) for e in entries] == [
        ("viewer", "DELETE /admin/rooms/{id}", "denied"),
        ("ops", "POST /admin/resync", "202"),
    ]
