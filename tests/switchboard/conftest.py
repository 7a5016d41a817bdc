"""A whole SAMTEK (real Prosody, real slapd) with the switchboard console enabled.

slapd holds the test region plus an operator, `sentral1`, in the group `sentralbord`, and a
password for Kari, who is no operator. People come from slapd through the LDAP connector;
their calendars are ICS files named after their id.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from connectors.ldap import LdapConnector
from samtek.app import Service
from samtek.config import load_config
from samtek.devserver.prosody import ProsodyServer
from samtek.plugin import Connector, discover_connectors
from tests.directory.seed import GROUPS, PEOPLE, group_dn, person_dn, seed_ldif
from tests.e2e.regions import write_ics
from tests.servers.ldap import ADMIN_DN, ADMIN_PASSWORD, SlapdServer

TYPES: dict[str, type[Connector]] = {**discover_connectors(), "ldap": LdapConnector}
OPERATOR, OPERATOR_PASSWORD = "sentral1", "sentral-pw-1"
KARI_PASSWORD = "kari-ldap-pw"


def operator_ldif() -> str:
    return f"""dn: {person_dn(OPERATOR, "kongsberg")}
objectClass: inetOrgPerson
uid: {OPERATOR}
cn: Siri Sentralbord
sn: Sentralbord
mail: {OPERATOR}@kongsberg.kommune.test
telephoneNumber: 1000
userPassword: {OPERATOR_PASSWORD}

dn: {group_dn("sentralbord")}
objectClass: groupOfNames
cn: sentralbord
member: {person_dn(OPERATOR, "kongsberg")}
"""


@dataclass
class Console:
    service: Service
    base: str  # http://127.0.0.1:port/switchboard/
    origin: str
    slapd: SlapdServer
    prosody: ProsodyServer
    directory: Path

    def ics(self, person_id: str) -> Path:
        return self.directory / f"{person_id}.ics"


def write_console_config(
    directory: Path, prosody: ProsodyServer, slapd: SlapdServer, extra_config: str = ""
) -> Path:
    (directory / "component.secret").write_text(prosody.component_secret)
    (directory / "ldap.secret").write_text(ADMIN_PASSWORD)
    for person in ("kari", "ola", "per", OPERATOR):
        write_ics(directory / f"{person}.ics")
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

[switchboard]
ldap_servers = ["{slapd.url}"]
user_base = "{PEOPLE}"
allow_plaintext_bind = true  # the test slapd listens on loopback only
operator_groups = ["sentralbord"]
cookie_secure = false  # plain HTTP on loopback in tests
login_burst = 3

[[municipalities]]
id = "kongsberg"
name = "Kongsberg kommune"
calendar = "feeds"
calendar_address = "{directory}/{{id}}.ics"

[[municipalities]]
id = "notodden"
name = "Notodden kommune"
calendar = "feeds"
calendar_address = "{directory}/{{id}}.ics"

[connectors.feeds]
type = "ical"
refresh_interval = 1

[connectors.staff]
type = "ldap"
servers = ["{slapd.url}"]
bind_dn = "{ADMIN_DN}"
password = "file:{directory / "ldap.secret"}"
people_base = "{PEOPLE}"
group_base = "{GROUPS}"
jid_template = "{{uid}}@{prosody.domain}"
municipalities = [
  {{ id = "kongsberg", base_dn = "ou=kongsberg,{PEOPLE}" }},
  {{ id = "notodden", base_dn = "ou=notodden,{PEOPLE}" }},
]
poll_interval = 0.3
allow_plaintext_bind = true
attributes = {{ department = "ou", title = "title" }}
{extra_config}
"""
    )
    return path


@contextlib.asynccontextmanager
async def start_console(
    prosody: ProsodyServer, directory: Path, extra_config: str = "", ldif: tuple[str, ...] = ()
) -> AsyncIterator[Console]:
    slapd = SlapdServer()
    try:
        await slapd.start()
        await slapd.add(seed_ldif())
        await slapd.add(operator_ldif())
        await slapd.modify(
            f"dn: {person_dn('kari', 'kongsberg')}\nchangetype: modify\n"
            f"add: userPassword\nuserPassword: {KARI_PASSWORD}\n-\n"
            "add: ou\nou: Sjukeheimen\n-\nadd: title\ntitle: Sjukepleiar\n"
        )
        for change in ldif:
            await slapd.modify(change)
        prosody.add_user("kari", "pw")
        await prosody.start()
        path = write_console_config(directory, prosody, slapd, extra_config)
        service = Service(load_config(path, TYPES), connector_types=TYPES)
        ready = asyncio.Event()
        task = asyncio.create_task(service.run(ready))
        try:
            await asyncio.wait_for(ready.wait(), 15)
            await asyncio.wait_for(service.web.wait_started(), 10)
            for _ in range(200):  # the LDAP connector's first sync
                if OPERATOR in service.directory.people():
                    break
                await asyncio.sleep(0.05)
            origin = service.web.base_url
            yield Console(service, f"{origin}/switchboard/", origin, slapd, prosody, directory)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    finally:
        await slapd.stop()
        slapd.cleanup()


@pytest.fixture
async def console(prosody: ProsodyServer, tmp_path: Path) -> AsyncIterator[Console]:
    async with start_console(prosody, tmp_path) as running:
        yield running
