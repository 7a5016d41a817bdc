"""The `[switchboard]` config section (validated with the rest of the config file)."""

from __future__ import annotations

from datetime import time
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, FilePath, model_validator

from samtek.secrets import Secret


class SwitchboardSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    # Operators log in with their directory password: a simple bind to one of these servers.
    ldap_servers: list[str] = Field(min_length=1, description="ldaps:// or ldap:// URLs")
    # Either a DN template ("uid={username},ou=people,dc=x" / AD "{username}@x.local") ...
    user_dn_template: str | None = None
    # ... or search-then-bind: find the DN under `user_base` (as `search_dn`, else anonymous).
    user_base: str | None = None
    user_filter: str = "(uid={username})"
    search_dn: str | None = None
    search_password: Secret | None = None
    start_tls: bool = False
    ca_file: FilePath | None = None
    # A simple bind over plain ldap:// sends the operator's password in clear text.
    allow_plaintext_bind: bool = False
    timeout: float = Field(5.0, gt=0, le=60)
    # Directory groups whose members are operators (any of them).
    operator_groups: list[str] = Field(default=["sentralbord"], min_length=1)
    session_minutes: int = Field(480, ge=1, le=24 * 60)
    max_sessions: int = Field(500, ge=1, le=100_000)
    login_burst: int = Field(5, ge=1, le=100)  # attempts per username and per address ...
    login_per_seconds: float = Field(60.0, gt=0)  # ... refilled over this many seconds
    # Cookies carry Secure unless turned off (only for a plain-HTTP test setup on loopback).
    cookie_secure: bool = True
    # Origins the page may be served from, e.g. "https://sentralbord.region.no"; empty: the
    # request's own Host, as the reverse proxy passes it.
    allowed_origins: list[str] = []
    working_day_start: time = time(8, 0)
    working_day_end: time = time(16, 0)
    stream_queue: int = Field(64, ge=4, le=10_000)  # batches a slow page may lag behind
    max_streams: int = Field(200, ge=1, le=10_000)
    results: int = Field(50, ge=1, le=500)  # rows per search answer

    @model_validator(mode="after")
    def _check(self) -> SwitchboardSection:
        if (self.user_dn_template is None) == (self.user_base is None):
            raise ValueError("set exactly one of user_dn_template and user_base")
        for url in self.ldap_servers:
            scheme = urlsplit(url).scheme.lower()
            if scheme not in ("ldap", "ldaps"):
                raise ValueError(f"{url!r}: expected an ldap:// or ldaps:// URL")
            if scheme == "ldaps" and self.start_tls:
                raise ValueError("start_tls is for ldap:// URLs; ldaps:// is TLS already")
            if scheme == "ldap" and not self.start_tls and not self.allow_plaintext_bind:
                raise ValueError(
                    f"{url!r}: a bind over plain ldap:// sends passwords in clear text; use"
                    " ldaps://, start_tls = true, or allow_plaintext_bind = true (loopback only)"
                )
        if "{username}" not in (self.user_dn_template or self.user_filter):
            raise ValueError("the DN template or user filter must contain {username}")
        if self.working_day_end <= self.working_day_start:
            raise ValueError("working_day_end must be after working_day_start")
        return self
