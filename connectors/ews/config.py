"""Configuration of one EWS (on-premises Exchange) connector instance."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, HttpUrl

from samtek.plugin import ConnectorConfig
from samtek.secrets import Secret


class EwsConfig(ConnectorConfig):
    type: str = "ews"
    url: HttpUrl  # the EWS endpoint, e.g. https://mail.kommune.no/EWS/Exchange.asmx
    username: str  # service account with the ApplicationImpersonation role
    password: Secret  # "env:NAME" or "file:/path" (samtek.secrets)
    auth_type: Literal["basic", "ntlm"] = "ntlm"
    # Pinned so exchangelib never probes versions (it retries every API version on some errors).
    server_build: tuple[int, int, int, int] = (15, 1, 2507, 6)
    # Exchange's default EWSMaxConcurrency is 27 per service account.
    max_concurrency: int = Field(default=8, ge=1, le=27)
    window_back_days: float = Field(default=1.0, ge=0)
    window_ahead_days: float = Field(default=14.0, gt=0)
    # How often pull subscriptions are polled with GetEvents.
    poll_interval_seconds: float = Field(default=30.0, gt=0)
    # Pull subscription timeout on the server (minutes, 1..1440); polling resets it.
    subscription_timeout_minutes: int = Field(default=30, ge=1, le=1440)
    # Automatic replies are not covered by calendar subscriptions: read them this often.
    oof_poll_minutes: float = Field(default=15.0, gt=0)
    # Re-anchor the window (full re-read of every mailbox) this often.
    full_resync_hours: float = Field(default=6.0, gt=0)
    request_timeout_seconds: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=6, ge=0)
    retry_base_seconds: float = Field(default=0.5, gt=0)
    retry_max_seconds: float = Field(default=60.0, gt=0)
