"""LDIF for the test region: two municipalities as OUs, three people, two groups."""

from __future__ import annotations

from tests.servers.ldap import SUFFIX

PEOPLE = f"ou=people,{SUFFIX}"
GROUPS = f"ou=groups,{SUFFIX}"


def person_dn(uid: str, municipality: str) -> str:
    return f"uid={uid},ou={municipality},{PEOPLE}"


def group_dn(name: str) -> str:
    return f"cn={name},{GROUPS}"


def _person(uid: str, municipality: str, name: str, phone: str, language: str) -> str:
    return f"""dn: {person_dn(uid, municipality)}
objectClass: inetOrgPerson
uid: {uid}
cn: {name}
sn: {name.split()[-1]}
mail: {uid}@{municipality}.kommune.test
telephoneNumber: {phone}
preferredLanguage: {language}
"""


def _group(name: str, *members: str) -> str:
    lines = "".join(f"member: {m}\n" for m in members)
    return f"dn: {group_dn(name)}\nobjectClass: groupOfNames\ncn: {name}\n{lines}"


def seed_ldif() -> str:
    entries = [
        f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: region\no: Region\n",
        f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n",
        f"dn: ou=kongsberg,{PEOPLE}\nobjectClass: organizationalUnit\nou: kongsberg\n",
        f"dn: ou=notodden,{PEOPLE}\nobjectClass: organizationalUnit\nou: notodden\n",
        f"dn: {GROUPS}\nobjectClass: organizationalUnit\nou: groups\n",
        _person("kari", "kongsberg", "Kari Nordmann", "+4732000001", "nn-NO"),
        _person("ola", "notodden", "Ola Hansen", "+4735000002", "en-GB"),
        _person("per", "kongsberg", "Per Berg", "+4732000003", "nb"),
        _group("planning", person_dn("kari", "kongsberg"), person_dn("ola", "notodden")),
        _group("drift", person_dn("per", "kongsberg")),
    ]
    return "\n".join(entries)
