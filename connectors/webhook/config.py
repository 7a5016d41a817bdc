"""Config section of the webhook connector (`type: webhook`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from samtek.plugin import ConnectorConfig
from samtek.secrets import Secret


class WebhookConfig(ConnectorConfig):
    type: Literal["webhook"] = "webhook"
    # Shared HMAC-SHA256 key, as a reference: "env:NAME" or "file:/path".
    secret: Secret
    signature_header: str = "X-Samtek-Signature"
    timestamp_header: str = "X-Samtek-Timestamp"
    # Requests whose signed timestamp is further than this from our clock are refused.
    max_age_seconds: int = Field(default=300, ge=10, le=3600)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=1024 * 1024)
