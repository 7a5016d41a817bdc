"""Checking an operator's directory password: one LDAP simple bind as that person.

The same TLS rules as the LDAP directory connector: ldaps:// or StartTLS verify the chain
(against `ca_file` or the system's CAs) and the host name; plain ldap:// is refused by the
config unless explicitly allowed. An empty password is refused here, before LDAP, because a
simple bind with an empty password is an anonymous bind that "succeeds" (RFC 4513 §5.1.2).
Blocking ldap3 calls run in a thread.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import ssl
from dataclasses import dataclass
from enum import Enum
from urllib.parse import urlsplit

import structlog
from ldap3 import NONE, SUBTREE, Connection, Server, Tls
from ldap3.core.exceptions import LDAPException, LDAPInvalidCredentialsResult
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn

from bridges.switchboard.settings import SwitchboardSection

log = structlog.get_logger("samtek.switchboard.ldap")

# Directory user names (uid, sAMAccountName): nothing that could reshape a DN or a filter.
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MAX_PASSWORD = 256


class BindResult(Enum):
    OK = "ok"
    REFUSED = "refused"  # wrong user name or password: the operator's problem
    UNAVAILABLE = "unavailable"  # no server could be asked: the admins' problem


@dataclass(frozen=True)
class BindOutcome:
    result: BindResult
    detail: str = ""  # for logs and the audit log, never for the page


class LdapVerifier:
    def __init__(self, settings: SwitchboardSection) -> None:
        self._settings = settings

    async def verify(self, username: str, password: str) -> BindOutcome:
        if not USERNAME.match(username) or not password or len(password) > MAX_PASSWORD:
            return BindOutcome(BindResult.REFUSED, "malformed user name or empty password")
        return await asyncio.to_thread(self._verify, username, password)

    def _verify(self, username: str, password: str) -> BindOutcome:
        errors = []
        for url in self._settings.ldap_servers:
            try:
                dn = self._user_dn(url, username)
                if dn is None:
                    return BindOutcome(BindResult.REFUSED, "no such user")
                conn = self._connection(url, dn, password)
                try:
                    conn.bind()
                finally:
                    conn.unbind()
                return BindOutcome(BindResult.OK)
            except LDAPInvalidCredentialsResult:
                return BindOutcome(BindResult.REFUSED, "invalid credentials")
            except LDAPException as exc:
                errors.append(f"{url}: {type(exc).__name__}")
                log.warning("ldap bind failed", server=url, error=type(exc).__name__)
        return BindOutcome(BindResult.UNAVAILABLE, "; ".join(errors))

    def _user_dn(self, url: str, username: str) -> str | None:
        s = self._settings
        if s.user_dn_template is not None:
            return s.user_dn_template.replace("{username}", escape_rdn(username))
        assert s.user_base is not None  # the config requires one of the two
        password = s.search_password.get_secret_value() if s.search_password else None
        conn = self._connection(url, s.search_dn, password)
        try:
            conn.bind()
            conn.search(
                s.user_base,
                s.user_filter.replace("{username}", escape_filter_chars(username)),
                search_scope=SUBTREE,
                attributes=[],
                size_limit=2,
            )
            found = [e["dn"] for e in conn.response or [] if e.get("type") == "searchResEntry"]
        finally:
            conn.unbind()
        return str(found[0]) if len(found) == 1 else None  # two matches: refuse, not guess

    def _connection(self, url: str, user: str | None, password: str | None) -> Connection:
        s = self._settings
        host = urlsplit(url).hostname or ""
        tls = Tls(
            validate=ssl.CERT_REQUIRED,  # ldap3's default is CERT_NONE
            ca_certs_file=str(s.ca_file) if s.ca_file else None,
            sni=None if _is_ip(host) else host,
        )
        server = Server(url.rstrip("/"), get_info=NONE, connect_timeout=s.timeout, tls=tls)
        conn = Connection(
            server,
            user=user,
            password=password,
            read_only=True,
            receive_timeout=max(1, round(s.timeout)),
            raise_exceptions=True,
        )
        conn.open()
        if s.start_tls and not server.ssl:
            conn.start_tls()  # raises unless upgraded and verified: no bind in clear text
        return conn


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
