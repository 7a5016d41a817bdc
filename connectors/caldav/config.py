"""The CalDAV connector's config section, validated before the connector starts."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    FilePath,
    SecretStr,
    field_validator,
    model_validator,
)

from samtek.plugin import ConnectorConfig
from samtek.secrets import Secret

_PLACEHOLDERS = {"", "changeme", "change-me", "password", "secret", "xxx", "todo"}


def _refuse_placeholder(value: SecretStr) -> SecretStr:
    if value.get_secret_value().strip().lower() in _PLACEHOLDERS:
        raise ValueError("is empty or a placeholder; set the real secret")
    return value


class BasicAuth(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["basic"]
    username: str = Field(min_length=1)
    password: Secret  # a reference: env:NAME or file:/path

    _check = field_validator("password")(_refuse_placeholder)


class BearerAuth(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["bearer"]
    token: Secret  # a reference: env:NAME or file:/path

    _check = field_validator("token")(_refuse_placeholder)


class CalDavConfig(ConnectorConfig):
    """One CalDAV server (one service account) serving many people's calendars.

    A person's calendar address (in the directory) is a calendar collection URL, a principal
    URL or the server root; relative addresses are resolved against `url`. Addresses on
    another origin are refused so the credentials never leave the configured server.
    """

    type: Literal["caldav"] = "caldav"
    url: AnyHttpUrl
    auth: Annotated[BasicAuth | BearerAuth, Field(discriminator="type")] | None = None
    verify_tls: bool = True
    ca_file: FilePath | None = None  # PEM bundle to trust instead of the system CAs
    sync_interval: timedelta = timedelta(minutes=5)
    sync_jitter: timedelta = timedelta(seconds=30)
    window_back: timedelta = timedelta(days=1)
    window_ahead: timedelta = timedelta(days=14)
    request_timeout: timedelta = timedelta(seconds=30)
    max_concurrency: int = Field(default=4, ge=1, le=64)
    backoff_initial: timedelta = timedelta(seconds=5)
    backoff_max: timedelta = timedelta(minutes=15)
    # Rediscover principals' calendars every this many syncs (new calendars appear).
    rediscover_every: int = Field(default=12, ge=1)

    @field_validator("url")
    @classmethod
    def _no_credentials_in_url(cls, value: AnyHttpUrl) -> AnyHttpUrl:
        if value.username or value.password:
            raise ValueError("must not contain credentials; use the auth section")
        return value

    @field_validator("sync_interval", "request_timeout", "backoff_initial", "backoff_max")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be positive")
        return value

    @field_validator("sync_jitter", "window_back", "window_ahead")
    @classmethod
    def _not_negative(cls, value: timedelta) -> timedelta:
        if value < timedelta(0):
            raise ValueError("must not be negative")
        return value

    @model_validator(mode="after")
    def _jitter_below_interval(self) -> CalDavConfig:
        if self.sync_jitter >= self.sync_interval:
            raise ValueError("sync_jitter must be smaller than sync_interval")
        return self
