"""LDAP over TLS against a real slapd with certificates from a test CA.

The bind password must only ever go to a server whose certificate chains to a trusted CA and
names the host in the URL: ldaps:// and StartTLS. A simple bind over plain ldap:// is a
config error unless the config allows it explicitly.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from connectors.ldap import LdapConnector
from connectors.ldap.client import AllServersFailed
from samtek.bus import Bus
from samtek.config import ConfigError, load_config
from samtek.directory import DirectoryService
from samtek.health import HealthReporter, HealthState
from samtek.plugin import ConnectorContext
from samtek.store import open_store
from tests.directory.conftest import MUNICIPALITIES, Region, eventually, ldap_config
from tests.directory.seed import seed_ldif
from tests.fakes.tls import ScratchCA
from tests.servers.ldap import ADMIN_DN, SlapdServer

RegionFactory = Callable[..., Awaitable[Region]]


@dataclass
class TlsSlapds:
    ca: ScratchCA
    right: SlapdServer  # certificate for 127.0.0.1, seeded
    wrong: SlapdServer  # certificate from the same CA, for another name


@pytest.fixture
async def tls_slapds(tmp_path: Path) -> AsyncIterator[TlsSlapds]:
    ca = ScratchCA(tmp_path)
    right = SlapdServer(tls=(*ca.issue("right", ["127.0.0.1", "localhost"]), ca.cert_file))
    wrong = SlapdServer(tls=(*ca.issue("wrong", ["ldap.elsewhere.test"]), ca.cert_file))
    try:
        await right.start()
        await wrong.start()
        await right.add(seed_ldif())
        yield TlsSlapds(ca, right, wrong)
    finally:
        for server in (right, wrong):
            await server.stop()
            server.cleanup()


async def test_ldaps_with_the_right_ca_syncs(
    tls_slapds: TlsSlapds, region_factory: RegionFactory
) -> None:
    right = tls_slapds.right
    assert right.ldaps_url is not None
    region = await region_factory(
        right, servers=[right.ldaps_url], ca_file=str(tls_slapds.ca.cert_file),
        allow_plaintext_bind=False,
    )  # fmt: skip
    await eventually(lambda: len(region.directory.people()) == 3)
    assert region.health.state is HealthState.OK


async def test_ldaps_certificate_for_another_name_is_refused_with_a_clear_error(
    tls_slapds: TlsSlapds, region_factory: RegionFactory
) -> None:
    """Same CA, wrong name: refused per server (an item error), the next server serves."""
    wrong, right = tls_slapds.wrong.ldaps_url, tls_slapds.right.ldaps_url
    assert wrong is not None and right is not None
    region = await region_factory(
        tls_slapds.right, servers=[wrong, right], ca_file=str(tls_slapds.ca.cert_file),
        allow_plaintext_bind=False,
    )  # fmt: skip
    await eventually(lambda: len(region.directory.people()) == 3)
    snapshot = region.health.snapshot()
    assert snapshot.state is HealthState.DEGRADED
    assert snapshot.item_errors[f"server {wrong}"] == (
        "TLS certificate refused: it is not issued for 127.0.0.1 (fix the host name in the URL"
        " or the server's certificate); the bind password was not sent"
    )


async def test_ldaps_to_an_untrusted_certificate_gets_no_password(
    tls_slapds: TlsSlapds, tmp_path: Path
) -> None:
    """ldap3's default (CERT_NONE) bound to any server: a certificate the system's CAs never
    signed, for another name, received the bind password (the old code synced here)."""
    wrong = tls_slapds.wrong
    assert wrong.ldaps_url is not None
    config = ldap_config(wrong, tmp_path / "pw", servers=[wrong.ldaps_url], timeout=5)
    async with open_store(f"sqlite:///{tmp_path}/state.db") as store:
        bus = Bus()
        ctx = ConnectorContext(
            "ldap", DirectoryService({}, MUNICIPALITIES, bus), bus, HealthReporter("x"), store
        )
        with pytest.raises(AllServersFailed) as refused:
            await asyncio.wait_for(LdapConnector(config, ctx).run(), 15)
    assert "TLS certificate refused: not signed by the system's CAs (set ca_file)" in str(
        refused.value
    )
    assert "the bind password was not sent" in str(refused.value)


async def test_start_tls_verifies_too(tls_slapds: TlsSlapds, region_factory: RegionFactory) -> None:
    right, wrong = tls_slapds.right, tls_slapds.wrong
    region = await region_factory(
        right, servers=[wrong.url, right.url], start_tls=True,
        ca_file=str(tls_slapds.ca.cert_file), allow_plaintext_bind=False,
    )  # fmt: skip
    await eventually(lambda: len(region.directory.people()) == 3)
    assert "not issued for 127.0.0.1" in region.health.snapshot().item_errors[f"server {wrong.url}"]


def test_simple_bind_over_plain_ldap_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("component-secret")
    (tmp_path / "ldap.secret").write_text("ldap-test-secret")
    path = tmp_path / "samtek.toml"
    base = f"""
[xmpp]
domain = "region.test"
component_jid = "samtek.region.test"
component_secret = "file:{tmp_path / "secret"}"

[connectors.staff]
type = "ldap"
servers = ["ldaps://ldap1.region.test", "ldap://ldap2.region.test"]
bind_dn = "{ADMIN_DN}"
password = "file:{tmp_path / "ldap.secret"}"
people_base = "dc=region,dc=test"
jid_template = "{{uid}}@region.test"
"""
    path.write_text(base)
    with pytest.raises(ConfigError) as refused:
        load_config(path, {"ldap": LdapConnector})
    assert str(refused.value) == (
        f"{path}: connectors.staff.allow_plaintext_bind: a simple bind over"
        " ldap://ldap2.region.test would send the password in clear text: use ldaps:// or"
        " start_tls = true, or set allow_plaintext_bind = true"
    )
    for fix in ("start_tls = true", "allow_plaintext_bind = true"):
        path.write_text(base.replace('"ldaps://ldap1.region.test", ', "") + fix + "\n")
        assert load_config(path, {"ldap": LdapConnector}).connectors["staff"]
    path.write_text(base.replace("ldap://ldap2", "ldaps://ldap2") + "start_tls = true\n")
    with pytest.raises(ConfigError, match=r"connectors\.staff\.start_tls: start_tls is for"):
        load_config(path, {"ldap": LdapConnector})
