"""LDAP people in the running service: served over the admin API, and known after a restart
before the directory server answers (the last update is kept in the store)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import aiohttp

from connectors.ldap import LdapConnector
from samtek.app import Service
from samtek.config import load_config
from samtek.devserver.prosody import ProsodyServer
from samtek.health import HealthState
from samtek.plugin import Connector, discover_connectors
from tests.directory.conftest import eventually
from tests.directory.seed import GROUPS, PEOPLE
from tests.servers.ldap import ADMIN_DN, ADMIN_PASSWORD, SlapdServer

TYPES: dict[str, type[Connector]] = {**discover_connectors(), "ldap": LdapConnector}
TOKEN = "directory-test-admin-token"


def write_config(directory: Path, prosody: ProsodyServer, slapd: SlapdServer) -> Path:
    (directory / "component.secret").write_text(prosody.component_secret)
    (directory / "ldap.secret").write_text(ADMIN_PASSWORD)
    (directory / "admin.token").write_text(TOKEN)
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
tokens = [{{ name = "ops", token = "file:{directory / "admin.token"}", role = "admin" }}]

[[municipalities]]
id = "kongsberg"
name = "Kongsberg kommune"

[[municipalities]]
id = "notodden"
name = "Notodden kommune"
language = "nn"

[connectors.staff]
type = "ldap"
servers = ["{slapd.url}"]
bind_dn = "{ADMIN_DN}"
password = "file:{directory / "ldap.secret"}"
allow_plaintext_bind = true  # loopback test slapd
people_base = "{PEOPLE}"
group_base = "{GROUPS}"
jid_template = "{{uid}}@{prosody.domain}"
municipalities = [
  {{ id = "kongsberg", base_dn = "ou=kongsberg,{PEOPLE}" }},
  {{ id = "notodden", base_dn = "ou=notodden,{PEOPLE}" }},
]
"""
    )
    return path


async def run_service(path: Path) -> tuple[Service, asyncio.Task[None]]:
    service = Service(load_config(path, TYPES), connector_types=TYPES)
    ready = asyncio.Event()
    task = asyncio.create_task(service.run(ready))
    await asyncio.wait_for(ready.wait(), 15)
    await asyncio.wait_for(service.web.wait_started(), 10)
    return service, task


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_ldap_people_in_the_service_and_after_restart(
    prosody: ProsodyServer, slapd: SlapdServer, tmp_path: Path
) -> None:
    await prosody.start()
    path = write_config(tmp_path, prosody, slapd)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    service, task = await run_service(path)
    try:
        await eventually(lambda: len(service.directory.people()) == 3)
        async with aiohttp.ClientSession() as http:
            base = service.web.admin_url
            async with http.get(f"{base}/admin/people", headers=auth) as response:
                people = await response.json()
            assert people["total"] == 3
            async with http.get(f"{base}/admin/groups", headers=auth) as response:
                groups = (await response.json())["groups"]
            assert groups["planning"] == sorted([prosody.jid("kari"), prosody.jid("ola")])
            async with http.post(
                f"{base}/admin/resync", json={"connectors": ["staff"]}, headers=auth
            ) as response:
                assert response.status == 200
                assert (await response.json())["results"] == {"staff": "done"}
    finally:
        await stop(task)

    await slapd.stop()  # the directory server is down when the service comes back
    service, task = await run_service(path)
    try:
        assert len(service.directory.people()) == 3  # restored from the store at start
        assert service.directory.members("drift") == {prosody.jid("per")}
        kari = service.directory.person("kari")
        assert kari is not None and kari.municipality == "kongsberg"
        await eventually(
            lambda: service.supervisor.health()["connector:staff"].state is HealthState.FAILING
        )
        assert len(service.directory.people()) == 3  # a failing source keeps its people
    finally:
        await stop(task)
