"""The documented ARI and webhook examples validate, and the documented signature holds."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

from connectors.ari import AriConfig
from connectors.webhook import WebhookConfig
from connectors.webhook.payload import PAYLOAD, CallPayload, DevicePayload
from connectors.webhook.signature import sign, valid

DOC = Path(__file__).parents[2] / "deploy" / "telephony-ari-webhook.md"


def blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", DOC.read_text(), re.S)


def test_documented_configs_validate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SAMTEK_ARI_PASSWORD", "s3cret")
    ari, hook = (tomllib.loads(b)["connectors"] for b in blocks("toml"))
    assert AriConfig.model_validate(ari["asterisk"]).technology == "PJSIP"
    secret = tmp_path / "pbx-webhook"
    secret.write_text("k")
    section = hook["cloudpbx"] | {"secret": f"file:{secret}"}
    assert WebhookConfig.model_validate(section).max_age_seconds == 300


def test_documented_events_parse() -> None:
    lines = blocks("json")[0].replace("\n ", " ").splitlines()
    call, device = (PAYLOAD.validate_python(json.loads(line)) for line in lines)
    assert isinstance(call, CallPayload) and call.state.value == "missed"
    assert isinstance(device, DevicePayload) and device.state.value == "in_use"


def test_signature_matches_the_documented_openssl_recipe() -> None:
    # printf '%s.%s' 1764064920 '{}' | openssl dgst -sha256 -hmac k  (OpenSSL 3.0)
    expected = "sha256=c2f014e68eee639054bca0706cf82f50742986f6db8e531679dd58d4bc422f27"
    assert sign(b"k", "1764064920", b"{}") == expected
    assert valid(b"k", "1764064920", b"{}", expected)
    assert not valid(b"k", "1764064921", b"{}", expected)
