"""Blocking LDAP access with ldap3, meant for one dedicated executor thread.

One connection at a time, to the first server that answers; a failed operation closes it and
tries the next server, so a dead replica costs one timeout, not a sync. Per-server errors are
kept for the connector to report as health items (health is updated on the event loop).

TLS (ldaps://, or StartTLS before the bind) always verifies the certificate chain (against
`ca_file` or the system's CAs) and that the certificate names the URL's host: ldap3's default
is CERT_NONE, which hands the bind password to anyone on the path.
"""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import structlog
from ldap3 import NONE, SUBTREE, Connection, Server, Tls
from ldap3.core.exceptions import (
    LDAPCertificateError,
    LDAPException,
    LDAPInvalidCredentialsResult,
    LDAPSocketOpenError,
    LDAPStartTLSError,
)

from samtek.plugin import AuthFailed

log = structlog.get_logger("samtek.ldap")

Entry = tuple[str, dict[str, list[str]]]  # (dn, lower-case attribute name -> values)


class AllServersFailed(ConnectionError):
    pass


@dataclass
class LdapClient:
    servers: Sequence[str]
    bind_dn: str | None
    password: str | None
    timeout: float
    page_size: int
    start_tls: bool = False
    ca_file: Path | None = None

    def __post_init__(self) -> None:
        self._conn: Connection | None = None
        self.current: str | None = None
        self.server_errors: dict[str, str] = {}

    def search(self, base: str, search_filter: str, attributes: Sequence[str]) -> list[Entry]:
        """A paged subtree search; fails over to the next server on connection errors.

        A kept-open connection may have been dropped by the server while idle: that server
        gets one more try on a fresh connection before it counts as failing.
        """
        errors: list[str] = []
        for url in self._order():
            fresh_retry = self._conn is not None and self.current == url
            while True:
                try:
                    entries = self._paged(url, base, search_filter, attributes)
                except LDAPInvalidCredentialsResult as exc:
                    self.close()
                    raise AuthFailed(f"{url}: bind as {self.bind_dn!r} refused ({exc})") from None
                except LDAPException as exc:
                    self.close()
                    reason = _tls_problem(exc, url, self.ca_file) or f"{type(exc).__name__}: {exc}"
                    if fresh_retry:
                        fresh_retry = False
                        log.info("ldap connection dropped; reconnecting", server=url, error=reason)
                        continue
                    self.server_errors[url] = reason
                    errors.append(f"{url}: {reason}")
                    break
                self.server_errors.pop(url, None)
                return entries
        raise AllServersFailed(f"search of {base!r} failed on every server: {'; '.join(errors)}")

    def _paged(
        self, url: str, base: str, search_filter: str, attributes: Sequence[str]
    ) -> list[Entry]:
        conn = self._connection(url)
        entries = conn.extend.standard.paged_search(
            base,
            search_filter,
            search_scope=SUBTREE,
            attributes=list(attributes),
            paged_size=self.page_size,
            generator=False,
        )
        return [_entry(e) for e in entries if e.get("type") == "searchResEntry"]

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.unbind()
            except LDAPException as exc:  # a broken connection: nothing left to clean up
                log.debug("ldap unbind failed", server=self.current, error=str(exc))
            self._conn = None
            self.current = None

    def _order(self) -> list[str]:
        """The connected server first, then the others in configured order."""
        if self.current is None:
            return list(self.servers)
        return [self.current, *(s for s in self.servers if s != self.current)]

    def _connection(self, url: str) -> Connection:
        if self._conn is not None and self.current == url and not self._conn.closed:
            return self._conn
        self.close()
        # ldap3 refuses a trailing slash after the port ("ldap://host:389/").
        server = Server(
            url.rstrip("/"), get_info=NONE, connect_timeout=self.timeout, tls=self._tls(url)
        )
        conn = Connection(
            server,
            user=self.bind_dn,
            password=self.password,
            read_only=True,
            receive_timeout=max(1, round(self.timeout)),  # ldap3 packs it as an integer
            raise_exceptions=True,
        )
        conn.open()  # ldaps://: handshake and certificate checks happen here
        if self.start_tls and not server.ssl:
            conn.start_tls()  # raises unless upgraded and verified: no bind in clear text
        conn.bind()
        self._conn, self.current = conn, url
        return conn

    def _tls(self, url: str) -> Tls:
        host = urlsplit(url).hostname or ""
        return Tls(
            validate=ssl.CERT_REQUIRED,  # chain, then ldap3 matches the host name
            ca_certs_file=str(self.ca_file) if self.ca_file else None,
            sni=None if _is_ip(host) else host,
        )


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _tls_problem(exc: LDAPException, url: str, ca_file: Path | None) -> str | None:
    """A clear reason for a refused certificate (ldap3's texts dump the whole certificate)."""
    host = urlsplit(url).hostname
    if isinstance(exc, LDAPCertificateError):
        return (
            f"TLS certificate refused: it is not issued for {host} (fix the host name in the"
            " URL or the server's certificate); the bind password was not sent"
        )
    text = str(exc)
    if isinstance(exc, LDAPSocketOpenError | LDAPStartTLSError) and "CERTIFICATE_VERIFY" in text:
        trusted = f"the CAs in ca_file {ca_file}" if ca_file else "the system's CAs (set ca_file)"
        detail = text.rsplit("certificate verify failed:", 1)[-1].strip(" )]'\"")
        return (
            f"TLS certificate refused: not signed by {trusted} ({detail});"
            " the bind password was not sent"
        )
    return None


def _entry(raw: dict[str, object]) -> Entry:
    values = raw.get("raw_attributes") or {}
    if not isinstance(values, Mapping):  # ldap3 gives a CaseInsensitiveDict
        raise TypeError(f"unexpected raw_attributes {type(values).__name__} for {raw.get('dn')}")
    return (
        str(raw["dn"]),
        {
            str(name).lower(): [
                v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in vs
            ]
            for name, vs in values.items()
        },
    )
