"""The LDAP/AD directory connector's config section."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

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

    @model_validator(mode="after")
    def _jid_source(self) -> LdapConfig:
        if self.attributes.jid is None and self.jid_template is None:
            raise ValueError("set attributes.jid or jid_template (e.g. '{uid}@region.test')")
        if self.password is not None and self.bind_dn is None:
            raise ValueError("password given without bind_dn")
        return self

    @property
    def change_attribute(self) -> str:
        """The attribute incremental syncs filter on."""
        return "uSNChanged" if self.flavor == "ad" else "modifyTimestamp"
