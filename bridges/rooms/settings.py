"""The `[rooms]` config section (validated with the rest of the config file)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from samtek.secrets import Secret


class DialIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    number: str
    pin: str | None = None


class RoomsSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    spec_dir: str
    interval_seconds: float = Field(300.0, ge=1)
    jitter: float = Field(0.1, ge=0, le=0.5, description="± fraction of the interval")
    retention_days: int = Field(90, ge=0)
    muc_service: str | None = None  # default: conference.<xmpp domain>
    nick: str = "SAMTEK"
    jitsi_base_url: str = "https://meet.jit.si"
    jitsi_app_id: str | None = None
    jitsi_secret: Secret | None = None
    jitsi_token_hours: int = Field(24, ge=1, le=24 * 31)
    reminder_minutes: float = Field(10, ge=0)
    feed_secret: Secret | None = None  # HMAC key for feed URLs; default: random, in the store
    meetings_ahead_days: int = Field(14, ge=1, le=366)
    # Static directory groups (the LDAP helper replaces these later): name -> people/JIDs.
    groups: dict[str, list[str]] = {}
    default_timezone: str = "Europe/Oslo"
    # Room requests from project leaders in chat ("opprett prosjektrom …"): these
    # municipalities' own staff get their rooms at once; all others wait for an admin.
    auto_approve_municipalities: list[str] = []
    max_pending_requests_per_person: int = Field(5, ge=1, le=100)
