"""Configuration of one Microsoft Graph (Microsoft 365) connector instance."""

from __future__ import annotations

from pydantic import Field, HttpUrl

from samtek.plugin import ConnectorConfig
from samtek.secrets import Secret


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
    poll_interval_seconds: float = Field(default=60.0, gt=0)
    oof_poll_minutes: float = Field(default=15.0, gt=0)
    full_resync_hours: float = Field(default=6.0, gt=0)
    page_size: int = Field(default=100, ge=1, le=1000)
    request_timeout_seconds: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=6, ge=0)
    retry_base_seconds: float = Field(default=0.5, gt=0)
    retry_max_seconds: float = Field(default=120.0, gt=0)
