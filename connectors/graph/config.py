"""Configuration of one Microsoft Graph (Microsoft 365) connector instance."""

from __future__ import annotations

import ipaddress

from pydantic import Field, HttpUrl, model_validator

from samtek.plugin import ConnectorConfig
from samtek.secrets import Secret

# Graph's longest lifetime for subscriptions on Outlook events (4,230 minutes, under three days).
MAX_EVENT_SUBSCRIPTION_MINUTES = 4230
_LOOPBACK_NAMES = {"localhost"}


def _loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class GraphConfig(ConnectorConfig):
    type: str = "graph"
    tenant_id: str
    client_id: str
    client_secret: Secret  # "env:NAME" or "file:/path" (samtek.secrets)
    authority_host: HttpUrl = HttpUrl("https://login.microsoftonline.com")
    graph_url: HttpUrl = HttpUrl("https://graph.microsoft.com/v1.0")
    scope: str = "https://graph.microsoft.com/.default"
    ca_file: str | None = None  # extra CA bundle (TLS-inspecting proxies, test fakes)
    # Outlook allows 4 concurrent requests per mailbox; this bounds all mailboxes together.
    max_concurrency: int = Field(default=16, ge=1, le=64)
    per_mailbox_concurrency: int = Field(default=4, ge=1, le=4)
    window_back_days: float = Field(default=1.0, ge=0)
    window_ahead_days: float = Field(default=14.0, gt=0)
    # Delta polling of a mailbox without a working change-notification subscription.
    poll_interval_seconds: float = Field(default=60.0, gt=0)
    oof_poll_minutes: float = Field(default=15.0, gt=0)
    full_resync_hours: float = Field(default=6.0, gt=0)
    page_size: int = Field(default=100, ge=1, le=1000)
    request_timeout_seconds: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=6, ge=0)
    retry_base_seconds: float = Field(default=0.5, gt=0)
    retry_max_seconds: float = Field(default=120.0, gt=0)

    # -- change notifications (webhooks); unset: delta polling only ------------------------
    # The public HTTPS URL at which Microsoft reaches SAMTEK's
    # {public listener}/graph/<connector name>/notifications (through a reverse proxy).
    notification_url: HttpUrl | None = None
    # Shared secret sent with every subscription and checked on every notification.
    client_state: Secret | None = None
    subscription_minutes: int = Field(default=MAX_EVENT_SUBSCRIPTION_MINUTES, ge=15, le=4230)
    renew_before_minutes: float = Field(default=720.0, gt=0)
    # Delta round of a mailbox whose subscription works: only the safety net.
    safety_poll_minutes: float = Field(default=60.0, gt=0)
    # After Microsoft could not validate the endpoint: try subscribing again this often.
    resubscribe_minutes: float = Field(default=30.0, gt=0)
    notification_max_body_bytes: int = Field(default=1024 * 1024, ge=4096, le=16 * 1024 * 1024)

    # -- Teams presence into XMPP (connectors/graph/teams.py) ------------------------------
    teams_presence: bool = False  # needs Presence.Read.All
    presence_poll_seconds: float = Field(default=30.0, gt=0)
    # -- SAMTEK's knowledge into Teams (connectors/graph/teams_write.py) --------------------
    teams_write: bool = False  # needs Presence.ReadWrite.All
    teams_write_people: tuple[str, ...] = ()  # person ids whose calls are written, or "*"
    # Lifetime of the app presence session (Graph: PT5M..PT4H); refreshed while it is needed.
    teams_session_minutes: int = Field(default=15, ge=5, le=240)

    @model_validator(mode="after")
    def _notifications(self) -> GraphConfig:
        if self.teams_write and not self.teams_write_people:
            raise ValueError('teams_write needs teams_write_people (person ids, or ["*"])')
        url = self.notification_url
        if url is None:
            if self.client_state is not None:
                raise ValueError("client_state is only used together with notification_url")
            return self
        if url.scheme != "https" and not _loopback(url.host):
            raise ValueError(
                "notification_url: Microsoft Graph delivers notifications over HTTPS only"
                " (http is accepted for a loopback address, e.g. behind a local proxy or in tests)"
            )
        if url.fragment:
            raise ValueError("notification_url must not have a #fragment")
        if self.client_state is None:
            raise ValueError("notification_url needs client_state (env:NAME or file:/path)")
        state = self.client_state.get_secret_value()
        if not 16 <= len(state) <= 128 or not state.isascii() or not state.isprintable():
            raise ValueError("client_state must be 16 to 128 printable ASCII characters")
        if self.renew_before_minutes >= self.subscription_minutes:
            raise ValueError("renew_before_minutes must be shorter than subscription_minutes")
        return self
