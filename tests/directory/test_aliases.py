"""A person's other addresses come from the directory (issue 14 item 6): invitations may
address them by any of them (aliases, AD proxyAddresses, urn:uuid: calendar addresses)."""

from __future__ import annotations

from connectors.dirfile.parse import parse
from connectors.ldap.config import LdapConfig
from connectors.ldap.mapping import to_person

BASE = {"type": "ldap", "servers": ["ldap://127.0.0.1:389"], "people_base": "dc=region,dc=test"}


def test_ldap_aliases_from_mail_alternate_address_and_ad_proxy_addresses() -> None:
    config = LdapConfig.model_validate(
        {**BASE, "jid_template": "{uid}@region.test", "default_municipality": "k"}
    )
    attrs = {
        "uid": ["kari"],
        "mail": ["kari@kongsberg.kommune.test"],
        "mailalternateaddress": ["k.nordmann@kongsberg.kommune.test"],
        "proxyaddresses": [
            "SMTP:kari@kongsberg.kommune.test",  # the primary address: already `email`
            "smtp:kari.nordmann@region.test",
            "X500:/o=ExchangeLabs/ou=Exchange Administrative Group/cn=Recipients/cn=kari",
            "SIP:kari@region.test",
        ],
    }
    person = to_person(config, "uid=kari", attrs)
    assert person.aliases == ("k.nordmann@kongsberg.kommune.test", "kari.nordmann@region.test")


def test_csv_aliases_column() -> None:
    csv = (
        "id,jid,name,municipality,email,aliases\n"
        "kari,kari@region.test,Kari,k,kari@k.test,kari.n@k.test; urn:uuid:0b7a8c1d-2e3f\n"
    )
    parsed = parse(csv, "csv", None)
    assert parsed.people[0].aliases == ("kari.n@k.test", "urn:uuid:0b7a8c1d-2e3f")
