"""Config section of the SIP connector (`type: sip`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from samtek.plugin import ConnectorConfig
from samtek.secrets import Secret


class SipConfig(ConnectorConfig):
    type: Literal["sip"] = "sip"
    # The PBX (registrar/proxy/presence server); every request is sent there.
    server_host: str
    server_port: int = Field(default=5060, ge=1, le=65535)
    # Domain of the extensions' AORs (sip:<ext>@<domain>); defaults to server_host[:port].
    domain: str | None = None
    # Where SAMTEK listens for NOTIFYs; the PBX must reach this address.
    bind_host: str = "0.0.0.0"
    bind_port: int = Field(default=5070, ge=0, le=65535)
    # Address put in Contact/Via if bind_host is a wildcard or behind NAT.
    advertised_host: str | None = None
    # Hosts (IP addresses) besides the server whose requests (NOTIFY, BYE) are accepted;
    # everyone else gets 403, so nobody on the network can fake call events.
    trusted_hosts: tuple[str, ...] = ()
    # Our identity towards the PBX (From of SUBSCRIBE and of the click-to-call leg).
    user: str = "samtek"
    display_name: str = "SAMTEK"
    # Digest credentials, if the PBX challenges SAMTEK (401/407) instead of trusting its IP.
    # The password is a reference: "env:NAME" or "file:/path" (samtek.secrets).
    auth_username: str | None = None
    auth_password: Secret | None = None
    subscription_expires: int = Field(default=3600, ge=10, le=86400)
    # How often one subscription is refreshed as a probe: a 481 means the PBX lost its
    # watchers (restart) and everything is re-subscribed.
    probe_interval: float = Field(default=30.0, gt=0)
    transaction_timeout: float = Field(default=32.0, gt=0)  # RFC 3261 Timer F
    retry_initial: float = Field(default=1.0, gt=0)
    retry_max: float = Field(default=300.0, gt=0)
    directory_poll: float = Field(default=60.0, gt=0)  # re-read people's phones this often
    # Click-to-call: how long the caller's phone rings, and how long the transfer may take.
    originate_answer_timeout: float = Field(default=30.0, gt=0)
    originate_transfer_timeout: float = Field(default=30.0, gt=0)

    @property
    def aor_domain(self) -> str:
        if self.domain:
            return self.domain
        if self.server_port == 5060:
            return self.server_host
        return f"{self.server_host}:{self.server_port}"
