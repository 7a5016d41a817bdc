"""The operator login's LDAP bind over TLS against real slapds with certificates from a test
CA: verified like the directory connector's, and plain ldap:// refused by the config."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from bridges.switchboard.ldapauth import BindResult, LdapVerifier
from bridges.switchboard.settings import SwitchboardSection
from tests.directory.seed import PEOPLE, seed_ldif
from tests.fakes.tls import ScratchCA
from tests.servers.ldap import SlapdServer
from tests.switchboard.conftest import OPERATOR, OPERATOR_PASSWORD, operator_ldif

TEMPLATE = f"uid={{username}},ou=kongsberg,{PEOPLE}"


@pytest.fixture
async def slapds(tmp_path: Path) -> AsyncIterator[tuple[ScratchCA, SlapdServer, SlapdServer]]:
    ca = ScratchCA(tmp_path)
    right = SlapdServer(tls=(*ca.issue("right", ["127.0.0.1", "localhost"]), ca.cert_file))
    wrong = SlapdServer(tls=(*ca.issue("wrong", ["ldap.elsewhere.test"]), ca.cert_file))
    try:
        for server in (right, wrong):
            await server.start()
            await server.add(seed_ldif())
            await server.add(operator_ldif())
        yield ca, right, wrong
    finally:
        for server in (right, wrong):
            await server.stop()
            server.cleanup()


def verifier(**settings: object) -> LdapVerifier:
    return LdapVerifier(
        SwitchboardSection.model_validate({"user_dn_template": TEMPLATE, **settings})
    )


async def test_ldaps_bind_checks_the_password_with_a_verified_certificate(
    slapds: tuple[ScratchCA, SlapdServer, SlapdServer],
) -> None:
    ca, right, _ = slapds
    check = verifier(ldap_servers=[right.ldaps_url], ca_file=str(ca.cert_file))
    assert (await check.verify(OPERATOR, OPERATOR_PASSWORD)).result is BindResult.OK
    assert (await check.verify(OPERATOR, "wrong")).result is BindResult.REFUSED
    assert (await check.verify("nobody", "x")).result is BindResult.REFUSED
    # Filter and DN syntax never reach the server.
    assert (await check.verify("*)(uid=*", "x")).result is BindResult.REFUSED
    starttls = verifier(ldap_servers=[right.url], start_tls=True, ca_file=str(ca.cert_file))
    assert (await starttls.verify(OPERATOR, OPERATOR_PASSWORD)).result is BindResult.OK


async def test_a_certificate_for_another_name_or_an_unknown_ca_gets_no_password(
    slapds: tuple[ScratchCA, SlapdServer, SlapdServer],
) -> None:
    ca, right, wrong = slapds
    other_name = verifier(ldap_servers=[wrong.ldaps_url], ca_file=str(ca.cert_file))
    assert (await other_name.verify(OPERATOR, OPERATOR_PASSWORD)).result is BindResult.UNAVAILABLE
    unknown_ca = verifier(ldap_servers=[right.ldaps_url])  # the system's CAs only
    assert (await unknown_ca.verify(OPERATOR, OPERATOR_PASSWORD)).result is BindResult.UNAVAILABLE
    # The next server is asked when the first cannot be trusted.
    failover = verifier(ldap_servers=[wrong.ldaps_url, right.ldaps_url], ca_file=str(ca.cert_file))
    assert (await failover.verify(OPERATOR, OPERATOR_PASSWORD)).result is BindResult.OK


def test_plain_ldap_is_refused_unless_allowed() -> None:
    with pytest.raises(ValidationError, match="clear text"):
        SwitchboardSection.model_validate(
            {"ldap_servers": ["ldap://ldap.region.test"], "user_dn_template": TEMPLATE}
        )
    with pytest.raises(ValidationError, match="exactly one"):
        SwitchboardSection.model_validate({"ldap_servers": ["ldaps://ldap.region.test"]})
    SwitchboardSection.model_validate(
        {"ldap_servers": ["ldap://127.0.0.1"], "user_dn_template": TEMPLATE,
         "allow_plaintext_bind": True}
    )  # fmt: skip
