"""LDAP config validation and entry mapping (pure functions)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from connectors.ldap.config import LdapConfig
from connectors.ldap.mapping import MappingError, language, normalize_dn, to_group, to_person

BASE = {"type": "ldap", "servers": ["ldap://127.0.0.1:389"], "people_base": "dc=region,dc=test"}


def config(**extra: object) -> LdapConfig:
    return LdapConfig.model_validate({**BASE, "jid_template": "{uid}@region.test", **extra})


def test_config_needs_a_jid_source_and_names_unknown_keys() -> None:
    with pytest.raises(ValidationError, match="jid_template"):
        LdapConfig.model_validate(BASE)
    with pytest.raises(ValidationError, match="page_sise"):
        config(page_sise=10)
    with pytest.raises(ValidationError, match="servers"):
        LdapConfig.model_validate({**BASE, "servers": [], "jid_template": "{uid}@x"})
    assert config(flavor="ad").change_attribute == "uSNChanged"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("nn-NO", "nn"), ("no-NYN", "nn"), ("nb", "nb"), ("no", "nb"), ("en-GB,nb;q=0.5", "en"),
     ("sv-SE", None), ("", None), (None, None)],
)  # fmt: skip
def test_preferred_language(value: str | None, expected: str | None) -> None:
    assert language(value) == expected


def test_municipality_from_attribute_base_dn_or_default() -> None:
    settings = config(
        attributes={"municipality": "l"},
        municipalities=[
            {"id": "kongsberg", "base_dn": "ou=kongsberg, dc=region,dc=test"},
            {"id": "notodden", "value": "Notodden"},
        ],
    )
    attrs = {"uid": ["kari"], "cn": ["Kari"], "l": ["notodden"]}
    assert to_person(settings, "uid=kari,ou=x,dc=region,dc=test", attrs).municipality == "notodden"
    attrs = {"uid": ["per"], "cn": ["Per"]}
    dn = "uid=per,OU=Kongsberg,dc=region,dc=test"
    assert to_person(settings, dn, attrs).municipality == "kongsberg"
    with pytest.raises(MappingError, match="no municipality"):
        to_person(settings, "uid=per,ou=elsewhere,dc=region,dc=test", attrs)
    fallback = config(default_municipality="kongsberg")
    assert to_person(fallback, "uid=per,dc=x", attrs).municipality == "kongsberg"


def test_jid_from_attribute_or_template_and_group_members() -> None:
    by_mail = config(attributes={"jid": "mail"}, default_municipality="k")
    attrs = {"uid": ["Kari"], "mail": ["Kari@Region.Test"], "telephonenumber": ["1", " "]}
    person = to_person(by_mail, "uid=kari", attrs)
    assert person.jid == "kari@region.test" and person.phones == ("1",)
    templated = config(jid_template="{id}.{sn}@region.test", default_municipality="k")
    with pytest.raises(MappingError, match="'sn'"):
        to_person(templated, "uid=kari", {"uid": ["kari"]})
    group = to_group(config(), "cn=g", {"cn": ["g"], "member": ["UID=Kari, OU=P,DC=x"]})
    assert group.member_dns == frozenset({normalize_dn("uid=kari,ou=p,dc=x")})
