"""The CalDAV config model refuses what would fail later, with field-level messages."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from connectors.caldav import CalDavConfig


def config(**values: object) -> CalDavConfig:
    return CalDavConfig.model_validate(
        {"type": "caldav", "url": "https://dav.example.test/", **values}
    )


def test_secrets_come_from_references(tmp_path: Path) -> None:
    secret = tmp_path / "caldav.secret"
    secret.write_text("s3rvice-pass\n")
    parsed = config(auth={"type": "basic", "username": "samtek", "password": f"file:{secret}"})
    assert parsed.auth is not None and parsed.auth.type == "basic"
    assert parsed.auth.password.get_secret_value() == "s3rvice-pass"
    assert "s3rvice-pass" not in repr(parsed)
    assert parsed.verify_tls is True
    assert parsed.sync_interval == timedelta(minutes=5)
    toml_like = config(sync_interval=120, sync_jitter="PT10S", window_ahead="P30D")
    assert (toml_like.sync_interval, toml_like.sync_jitter, toml_like.window_ahead) == (
        timedelta(minutes=2),
        timedelta(seconds=10),
        timedelta(days=30),
    )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"auth": {"type": "basic", "username": "u", "password": "hunter2"}}, "not a literal"),
        ({"auth": {"type": "bearer", "token": "env:SAMTEK_TEST_UNSET_VARIABLE"}}, "is not set"),
        ({"url": "https://u:p@dav.example.test/"}, "must not contain credentials"),
        ({"sync_interval": 0}, "must be positive"),
        ({"window_back": -5}, "must not be negative"),
        ({"max_concurrency": 0}, "greater than or equal to 1"),
        ({"surprise": 1}, "Extra inputs are not permitted"),
        ({"sync_interval": 10, "sync_jitter": 10}, "smaller than sync_interval"),
    ],
)
def test_bad_values_are_refused(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        config(**values)


def test_placeholder_secrets_are_refused(tmp_path: Path) -> None:
    secret = tmp_path / "placeholder"
    secret.write_text("changeme")
    with pytest.raises(ValidationError, match="placeholder"):
        config(auth={"type": "bearer", "token": f"file:{secret}"})
