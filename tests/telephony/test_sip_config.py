"""The documented config example is valid, and bad values are refused."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from pydantic import ValidationError

from connectors.sip import SipConfig
from connectors.sip.connector import extension_of

DOC = Path(__file__).parents[2] / "deploy" / "telephony.md"


def test_documented_example_validates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAMTEK_PBX_PASSWORD", "s3cret")
    block = re.search(r"```toml\n(.*?)```", DOC.read_text(), re.S)
    assert block is not None
    section = tomllib.loads(block.group(1))["connectors"]["pbx"]
    config = SipConfig.model_validate(section)
    assert config.aor_domain == "kommune.example"
    assert config.auth_password is not None
    assert "s3cret" not in repr(config)


def test_literal_password_and_unknown_key_refused() -> None:
    with pytest.raises(ValidationError, match="secret reference"):
        SipConfig.model_validate({"type": "sip", "server_host": "pbx", "auth_password": "x"})
    with pytest.raises(ValidationError, match="server_hots"):
        SipConfig.model_validate({"type": "sip", "server_hots": "pbx"})


def test_default_domain_keeps_a_non_default_port() -> None:
    assert SipConfig(type="sip", server_host="pbx", server_port=5080).aor_domain == "pbx:5080"


def test_phone_entries_to_extensions() -> None:
    assert extension_of("1001") == "1001"
    assert extension_of("+47 22 33 44 55") == "+4722334455"
    assert extension_of("(0) 123-45") == "012345"
    assert extension_of("1001>;evil") is None
    assert extension_of("") is None
