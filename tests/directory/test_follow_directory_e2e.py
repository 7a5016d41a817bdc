"""Directory changes reach the connectors and the presence bridge without a restart.

A real slapd feeds the running service (LDAP connector, iCal connector on local feeds, real
Prosody). nina is added to the directory while the service runs: her meeting reaches her
contact. She moves to another municipality, whose calendar address points at another feed:
that feed's meeting is shown. She leaves the directory: her overlay is cleared.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from connectors.ldap import LdapConnector
from samtek.app import Service
from samtek.clock import Clock
from samtek.config import load_config
from samtek.devserver.prosody import ProsodyServer
from samtek.plugin import Connector, discover_connectors
from tests.directory.conftest import eventually
from tests.directory.seed import GROUPS, PEOPLE, person_dn
from tests.e2e.regions import ics_meeting, write_ics
from tests.instants import until_texts
from tests.servers.ldap import ADMIN_DN, ADMIN_PASSWORD, SlapdServer
from tests.xmpp_clients import TestClient

TYPES: dict[str, type[Connector]] = {**discover_connectors(), "ldap": LdapConnector}
OWN_STATUS = "På kontoret"
OSLO = ZoneInfo("Europe/Oslo")


def write_config(directory: Path, prosody: ProsodyServer, slapd: SlapdServer) -> Path:
    (directory / "component.secret").write_text(prosody.component_secret)
    (directory / "ldap.secret").write_text(ADMIN_PASSWORD)
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

[[municipalities]]
id = "kongsberg"
name = "Kongsberg kommune"
calendar = "feeds"
calendar_address = "{directory}/kongsberg/{{id}}.ics"

[[municipalities]]
id = "notodden"
name = "Notodden kommune"
language = "nn"
calendar = "feeds"
calendar_address = "{directory}/notodden/{{id}}.ics"

[[municipalities]]
id = "hjartdal"
name = "Hjartdal kommune"  # no calendar connector

[connectors.feeds]
type = "ical"
refresh_interval = 1

[connectors.staff]
type = "ldap"
servers = ["{slapd.url}"]
bind_dn = "{ADMIN_DN}"
password = "file:{directory / "ldap.secret"}"
allow_plaintext_bind = true  # loopback test slapd
people_base = "{PEOPLE}"
group_base = "{GROUPS}"
jid_template = "{{uid}}@{prosody.domain}"
poll_interval = 0.2
full_resync_interval = 1  # a deletion is seen by a full sync
municipalities = [
  {{ id = "kongsberg", base_dn = "ou=kongsberg,{PEOPLE}" }},
  {{ id = "notodden", base_dn = "ou=notodden,{PEOPLE}" }},
  {{ id = "hjartdal", base_dn = "ou=hjartdal,{PEOPLE}" }},
]
"""
    )
    return path


def nina_ldif(municipality: str) -> str:
    return f"""dn: {person_dn("nina", municipality)}
objectClass: inetOrgPerson
uid: nina
cn: Nina Lund
sn: Lund
mail: nina@{municipality}.kommune.test
"""


@pytest.mark.clock_sensitive
async def test_person_added_moved_and_removed_while_running(
    prosody: ProsodyServer, slapd: SlapdServer, clock: Clock, tmp_path: Path
) -> None:
    prosody.add_user("nina", "pw")
    prosody.add_user("watcher", "pw")
    prosody.add_contact("nina", prosody.jid("watcher"), subscription="both")
    prosody.add_contact("watcher", prosody.jid("nina"), subscription="both")
    await prosody.start()
    nina = TestClient(prosody.jid("nina"), "pw", prosody.c2s_port, status=OWN_STATUS)
    watcher = TestClient(prosody.jid("watcher"), "pw", prosody.c2s_port)
    await nina.connect()
    await watcher.connect()
    assert (await watcher.next_from(prosody.jid("nina"))).status == OWN_STATUS

    now = clock.now().replace(microsecond=0)
    first_end, second_end = now + timedelta(minutes=40), now + timedelta(minutes=70)
    for municipality, end in (("kongsberg", first_end), ("notodden", second_end)):
        (tmp_path / municipality).mkdir()
        write_ics(
            tmp_path / municipality / "nina.ics",
            ics_meeting(f"{municipality}-m", now - timedelta(minutes=10), end),
        )
    service = Service(load_config(write_config(tmp_path, prosody, slapd), TYPES), TYPES, clock)
    ready = asyncio.Event()
    task = asyncio.create_task(service.run(ready))
    await slapd.add(f"dn: ou=hjartdal,{PEOPLE}\nobjectClass: organizationalUnit\nou: hjartdal\n")
    try:
        await asyncio.wait_for(ready.wait(), 15)
        # The feeds connector runs with the seeded people (kari's feed does not exist).
        await eventually(
            lambda: "kari" in service.supervisor.health()["connector:feeds"].snapshot().item_errors
        )
        assert service.directory.person("nina") is None

        # Added while running: the iCal connector reads her feed without a restart.
        await slapd.add(nina_ldif("kongsberg"))
        busy = await watcher.next_from(prosody.jid("nina"), timeout=20)
        assert busy.show == "dnd"
        assert any(t in busy.status for t in until_texts(first_end, OSLO, "nb", now, clock.now()))

        # Moved to notodden: her calendar address is now that municipality's feed.
        await slapd.ldif("ldapmodify", _move("kongsberg", "notodden"))
        # Her old meeting may show once more in her new language before the new feed is read.
        expected = until_texts(second_end, OSLO, "nn", now, clock.now())
        moved = await watcher.next_from(prosody.jid("nina"), timeout=20)
        while not any(t in moved.status for t in expected):
            moved = await watcher.next_from(prosody.jid("nina"), timeout=20)
        assert moved.show == "dnd"

        # Moved to hjartdal, which reads no calendar: the feed's meeting no longer counts.
        await slapd.ldif("ldapmodify", _move("notodden", "hjartdal"))
        own = await watcher.next_from(prosody.jid("nina"), timeout=20)
        assert (own.show, own.status) == ("", OWN_STATUS)
        await slapd.ldif("ldapmodify", _move("hjartdal", "kongsberg"))
        assert (await watcher.next_from(prosody.jid("nina"), timeout=20)).show == "dnd"

        # Removed: the overlay is cleared, her own status shows again.
        await slapd.ldif("ldapdelete", person_dn("nina", "kongsberg") + "\n")
        back = await watcher.next_from(prosody.jid("nina"), timeout=20)
        assert (back.show, back.status) == ("", OWN_STATUS)
        assert service.directory.person("nina") is None
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await nina.disconnect()
        await watcher.disconnect()


def _move(old: str, new: str) -> str:
    return f"""dn: {person_dn("nina", old)}
changetype: modrdn
newrdn: uid=nina
deleteoldrdn: 1
newsuperior: ou={new},{PEOPLE}
"""
