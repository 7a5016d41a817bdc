"""A whole SAMTEK service (real Prosody) with admin tokens, an ICS calendar and a failing LDAP.

The LDAP connector points at a loopback port where nothing listens, so the supervisor shows it
failing (the status page must paint it red). Tokens come from files, as in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from connectors.ldap import LdapConnector
from samtek.admin.context import CORE_PARTS
from samtek.app import Service
from samtek.config import load_config
from samtek.devserver.process import free_port
from samtek.devserver.prosody import ProsodyServer
from samtek.health import HealthState
from samtek.plugin import Connector, discover_connectors
from tests.e2e.regions import ics_meeting, write_ics

TYPES: dict[str, type[Connector]] = {**discover_connectors(), "ldap": LdapConnector}


@dataclass
class AdminRegion:
    service: Service
    base: str  # http://127.0.0.1:port
    admin_token: str
    read_token: str
    directory: Path

    def auth(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    @property
    def admin(self) -> dict[str, str]:
        return self.auth(self.admin_token)

    @property
    def reader(self) -> dict[str, str]:
        return self.auth(self.read_token)


def write_admin_config(directory: Path, prosody: ProsodyServer) -> tuple[Path, str, str]:
    admin_token, read_token = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    (directory / "admin.token").write_text(admin_token)
    (directory / "read.token").write_text(read_token)
    (directory / "component.secret").write_text(prosody.component_secret)
    now = datetime.now(UTC)
    feed = directory / "kari.ics"
    write_ics(feed, ics_meeting("m1", now - timedelta(minutes=5), now + timedelta(hours=1)))
    dead_ldap = free_port()  # nothing listens there
    path = directory / "samtek.toml"
    path.write_text(
        f"""
[xmpp]
domain = "{prosody.domain}"
component_jid = "{prosody.component_jid}"
component_secret = "file:{directory / "component.secret"}"
port = {prosody.component_port}

[store]
url = "sqlite:///{directory}/state.db"

[http]
port = 0

[admin]
public_status = true
tokens = [
  {{ name = "ops", token = "file:{directory / "admin.token"}", role = "admin" }},
  {{ name = "viewer", token = "file:{directory / "read.token"}", role = "read" }},
]

[[municipalities]]
id = "kongsberg"
name = "Kongsberg kommune"
calendar = "feeds"

[[people]]
id = "kari"
jid = "{prosody.jid("kari")}"
name = "Kari Nordmann"
municipality = "kongsberg"
calendars = [{{ address = "{feed}" }}]

[[people]]
id = "ola"
jid = "{prosody.jid("ola")}"
name = "Ola Hansen"
municipality = "kongsberg"
language = "en"

[connectors.feeds]
type = "ical"

[connectors.staff]
type = "ldap"
servers = ["ldap://127.0.0.1:{dead_ldap}"]
people_base = "ou=people,dc=region,dc=test"
jid_template = "{{uid}}@{prosody.domain}"
default_municipality = "kongsberg"
timeout = 1
"""
    )
    return path, admin_token, read_token


@pytest.fixture
async def admin_region(prosody: ProsodyServer, tmp_path: Path) -> AsyncIterator[AdminRegion]:
    prosody.add_user("kari", "pw")
    prosody.add_user("ola", "pw")
    await prosody.start()
    path, admin_token, read_token = write_admin_config(tmp_path, prosody)
    service = Service(load_config(path, TYPES), connector_types=TYPES)
    ready = asyncio.Event()
    task = asyncio.create_task(service.run(ready))
    try:
        await asyncio.wait_for(ready.wait(), 15)
        await asyncio.wait_for(service.web.wait_started(), 10)
        region = AdminRegion(service, service.web.admin_url, admin_token, read_token, tmp_path)
        await wait_for_state(service, "connector:staff", HealthState.FAILING)
        # Ready as /admin/health sees it: the presence part turns ok only after its first
        # reconcile with Prosody, a moment after the listeners are up.
        for part in CORE_PARTS:
            await wait_for_state(service, part, HealthState.OK)
        yield region
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def wait_for_state(
    service: Service, part: str, state: HealthState, timeout: float = 15.0
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while service.supervisor.health()[part].state is not state:
        if loop.time() > deadline:
            snapshot = service.supervisor.health()[part].snapshot()
            raise AssertionError(f"{part} did not become {state.value}: {snapshot}")
        await asyncio.sleep(0.05)


async def get_json(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    async with session.get(url, headers=headers or {}) as response:
        return response.status, await response.json()
