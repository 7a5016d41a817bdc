"""deploy/: the example config passes `samtek check-config`, the unit file is hardened."""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "deploy" / "samtek.example.toml"
UNIT = ROOT / "deploy" / "systemd" / "samtek.service"


def test_example_config_passes_check_config() -> None:
    env = {
        **os.environ,
        "SAMTEK_COMPONENT_SECRET": "component-secret",
        "SAMTEK_PBX_PASSWORD": "pbx-secret",
        "SAMTEK_EWS_PASSWORD": "ews-secret",
        "SAMTEK_GRAPH_CLIENT_SECRET": "graph-secret",
        "SAMTEK_ADMIN_TOKEN_OPS": "ops-token-0123456789abcdef",
        "SAMTEK_ADMIN_TOKEN_HELPDESK": "helpdesk-token-0123456789",
    }
    result = subprocess.run(
        [sys.executable, "-m", "samtek.cli", "check-config", str(EXAMPLE)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "OK (2 people, 3 connectors)" in result.stdout
    assert "secret" not in result.stdout and "0123456789" not in result.stdout


def test_example_config_without_its_secrets_is_refused() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAMTEK_")}
    result = subprocess.run(
        [sys.executable, "-m", "samtek.cli", "check-config", str(EXAMPLE)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "SAMTEK_COMPONENT_SECRET is not set" in result.stderr


def test_unit_is_hardened() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(UNIT)
    service = unit["Service"]
    expected = {
        "User": "samtek",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ReadWritePaths": "/var/lib/samtek",
        "PrivateTmp": "yes",
        "ProtectHome": "yes",
        "CapabilityBoundingSet": "",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
        "Restart": "on-failure",
    }
    assert {k: service.get(k) for k in expected} == expected
    assert "@system-service" in UNIT.read_text()
