"""The LDAP/AD directory connector's config section."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    FilePath,
    ValidationInfo,
    field_validator,
    model_validator,
)

from samtek.plugin import ConnectorConfig
from samtek.secrets import Secret


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AttributeMap(_Part):
    """Which directory attribute holds what (OpenLDAP defaults; AD: sAMAccountName, ipPhone)."""

    id: str = "uid"
    name: str = "cn"
    mail: str = "mail"
    jid: str | None = None  # an attribute holding the JID; else `jid_template`
    phones: tuple[str, ...] = ("telephoneNumber",)
    # Other e-mail addresses; AD's proxyAddresses keeps only its "smtp:" values.
    aliases: tuple[str, ...] = ("mailAlternateAddress", "proxyAddresses")
    language: str | None = "preferredLanguage"
    municipality: str | None = None  # an attribute naming the municipality
    # Shown and searched by the switchboard console, e.g. "department"/"title" (AD), "ou".
    department: str | None = None
    title: str | None = None


class MunicipalityMap(_Part):
    """A municipality's people: below `base_dn`, or whose municipality attribute is `value`."""

    id: str
    base_dn: str | None = None
    value: str | None = None


class LdapConfig(ConnectorConfig):
    servers: list[str] = Field(min_length=1, description="ldap:// or ldaps:// URLs, in order")
    flavor: Literal["openldap", "ad"] = "openldap"
    bind_dn: str | None = None
    password: Secret | None = None
    people_base: str
    people_filter: str = "(objectClass=inetOrgPerson)"
    group_base: str | None = None  # no groups when unset
    group_filter: str = "(objectClass=groupOfNames)"
    group_name_attribute: str = "cn"
    group_member_attribute: str = "member"
    # Serve only the members of this group (its DN), nested groups included; needs group_base.
    people_group: str | None = None
    attributes: AttributeMap = AttributeMap()
    # Used when attributes.jid is unset: any fetched attribute by lower-case name, plus {id}
    # and {mail}. E.g. "{uid}@region.test".
    jid_template: str | None = None
    municipalities: tuple[MunicipalityMap, ...] = ()
    default_municipality: str | None = None
    page_size: int = Field(500, ge=1, le=10_000)
    poll_interval: float = Field(60.0, gt=0, description="seconds between incremental syncs")
    full_resync_interval: float = Field(3600.0, gt=0, description="seconds between full syncs")
    timeout: float = Field(10.0, gt=0)
    # TLS: ldaps:// URLs, or ldap:// with start_tls (RFC 4513 §3). The certificate must chain
    # to `ca_file` (PEM; default: the system's CAs) and name the host in the URL.
    start_tls: bool = Field(False, validate_default=True)
    ca_file: FilePath | None = None
    # A simple bind over plain ldap:// sends the password in clear text: refused unless set.
    allow_plaintext_bind: bool = Field(False, validate_default=True)

    @field_validator("start_tls")
    @classmethod
    def _start_tls_needs_ldap(cls, value: bool, info: ValidationInfo) -> bool:
        servers = info.data.get("servers") or []
        if value and any(_scheme(s) == "ldaps" for s in servers):
            raise ValueError("start_tls is for ldap:// URLs; ldaps:// servers are TLS already")
        return value

    @field_validator("allow_plaintext_bind")
    @classmethod
    def _no_password_in_clear(cls, value: bool, info: ValidationInfo) -> bool:
        plain = [s for s in info.data.get("servers") or [] if _scheme(s) == "ldap"]
        if info.data.get("password") is None or info.data.get("start_tls") or not plain or value:
            return value
        raise ValueError(
            f"a simple bind over {plain[0]} would send the password in clear text: use"
            " ldaps:// or start_tls = true, or set allow_plaintext_bind = true"
        )

    @model_validator(mode="after")
    def _jid_source(self) -> LdapConfig:
        if self.attributes.jid is None and self.jid_template is None:
            raise ValueError("set attributes.jid or jid_template (e.g. '{uid}@region.test')")
        if self.password is not None and self.bind_dn is None:
            raise ValueError("password given without bind_dn")
        if self.people_group is not None and self.group_base is None:
            raise ValueError("people_group needs group_base (where the groups are read)")
        return self

    @field_validator("servers")
    @classmethod
    def _known_schemes(cls, servers: list[str]) -> list[str]:
        for url in servers:
            if _scheme(url) not in ("ldap", "ldaps"):
                raise ValueError(f"{url!r}: expected an ldap:// or ldaps:// URL")
        return servers

    @property
    def change_attribute(self) -> str:
        """The attribute incremental syncs filter on."""
        return "uSNChanged" if self.flavor == "ad" else "modifyTimestamp"


def _scheme(url: str) -> str:
    return url.partition("://")[0].lower() if "://" in url else ""
