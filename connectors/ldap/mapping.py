"""Directory entries to SAMTEK people and groups (pure functions, no I/O)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from connectors.ldap.config import LdapConfig
from samtek.events import DirectoryPerson

Attributes = Mapping[str, Sequence[str]]  # lower-case attribute name -> values


class MappingError(ValueError):
    """An entry cannot become a person (missing attribute, no municipality)."""


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    member_dns: frozenset[str]


def normalize_dn(dn: str) -> str:
    """A comparable DN: lower case, no spaces around RDN separators."""
    return ",".join(part.strip() for part in dn.split(",")).lower()


def language(value: str | None) -> str | None:
    """preferredLanguage (RFC 2798: an Accept-Language value) -> nb/nn/en, None if other."""
    if not value:
        return None
    tag = value.split(",")[0].split(";")[0].strip().lower().replace("_", "-")
    primary = tag.split("-")[0]
    if primary == "nn" or tag == "no-nyn":
        return "nn"
    if primary in ("nb", "no", "nob"):
        return "nb"
    if primary == "en":
        return "en"
    return None


def first(attributes: Attributes, name: str | None) -> str | None:
    if name is None:
        return None
    values = attributes.get(name.lower()) or ()
    if not values:
        return None
    return str(values[0]).strip() or None


def to_person(config: LdapConfig, dn: str, attributes: Attributes) -> DirectoryPerson:
    names = config.attributes
    person_id = first(attributes, names.id)
    if person_id is None:
        raise MappingError(f"no {names.id} attribute")
    mail = first(attributes, names.mail)
    if names.jid is not None:
        jid = first(attributes, names.jid)
        if jid is None:
            raise MappingError(f"no {names.jid} attribute for the JID")
    else:
        assert config.jid_template is not None  # the config validator guarantees one
        values = {k: str(v[0]) for k, v in attributes.items() if v}
        values.update({"id": person_id, **({"mail": mail} if mail else {})})
        try:
            jid = config.jid_template.format_map(values)
        except KeyError as exc:
            raise MappingError(f"jid_template needs attribute {exc.args[0]!r}") from None
    phones = tuple(
        str(v).strip()
        for attribute in names.phones
        for v in attributes.get(attribute.lower(), ())
        if str(v).strip()
    )
    aliases = tuple(
        address
        for attribute in names.aliases
        for v in attributes.get(attribute.lower(), ())
        if (address := _alias(str(v))) and address.lower() != (mail or "").lower()
    )
    return DirectoryPerson(
        id=person_id,
        jid=jid.lower(),
        name=first(attributes, names.name) or person_id,
        municipality=municipality(config, dn, attributes),
        email=mail,
        language=language(first(attributes, names.language)),
        phones=phones,
        aliases=aliases,
        department=first(attributes, names.department),
        title=first(attributes, names.title),
    )


def _alias(value: str) -> str | None:
    """An e-mail alias: AD proxyAddresses are "SMTP:primary" / "smtp:alias" next to X500:,
    SIP: and others, which are no e-mail addresses."""
    kind, colon, address = value.strip().partition(":")
    if colon and kind.lower() == "smtp":
        return address.strip() or None
    return value.strip() if not colon and "@" in value else None


def municipality(config: LdapConfig, dn: str, attributes: Attributes) -> str:
    value = first(attributes, config.attributes.municipality)
    if value is not None:
        for m in config.municipalities:
            if value.lower() in ((m.value or "").lower(), m.id.lower()):
                return m.id
    where = normalize_dn(dn)
    for m in config.municipalities:
        if m.base_dn and (where == (base := normalize_dn(m.base_dn)) or where.endswith(f",{base}")):
            return m.id
    if config.default_municipality is not None:
        return config.default_municipality
    raise MappingError(
        f"no municipality (attribute value {value!r}, no matching base_dn, no default)"
    )


def to_group(config: LdapConfig, dn: str, attributes: Attributes) -> Group:
    name = first(attributes, config.group_name_attribute)
    if name is None:
        raise MappingError(f"no {config.group_name_attribute} attribute")
    members = attributes.get(config.group_member_attribute.lower(), ())
    return Group(name, frozenset(normalize_dn(str(m)) for m in members))
