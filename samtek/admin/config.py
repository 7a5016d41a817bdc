"""The `[admin]` config section: bearer tokens and their roles."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from samtek.secrets import Secret

Role = Literal["read", "admin"]


class AdminToken(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1, description="who uses it; recorded in the audit log")
    token: Secret  # env:NAME or file:/path
    role: Role = "read"

    @field_validator("token")
    @classmethod
    def _long_enough(cls, value: object) -> object:
        secret = getattr(value, "get_secret_value", lambda: "")()
        if len(secret) < 16:
            raise ValueError("admin tokens must have at least 16 characters")
        return value


class AdminSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    tokens: list[AdminToken] = []
    # The HTML status page without a token (a wall display); the JSON API always needs one.
    public_status: bool = False
    audit_retention_days: int = Field(365, ge=1)
    # Request bodies are small JSON documents; larger ones are refused with 413 unread.
    max_body_bytes: int = Field(64 * 1024, ge=1024, le=1024 * 1024)

    @field_validator("tokens")
    @classmethod
    def _unique_names(cls, tokens: list[AdminToken]) -> list[AdminToken]:
        names = [t.name for t in tokens]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate token names: {', '.join(duplicates)}")
        return tokens
