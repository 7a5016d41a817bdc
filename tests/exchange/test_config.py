"""The Exchange connectors' config sections through the real config loader."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.ews import EwsConfig, EwsConnector
from connectors.graph import GraphConfig, GraphConnector
from samtek.config import ConfigError, load_config
from samtek.model import CalendarRef
from samtek.plugin import Connector

CONFIG = """
[xmpp]
domain = "region.test"
component_jid = "samtek.region.test"
component_secret = "env:SAMTEK_TEST_SECRET"

[[municipalities]]
id = "kongsberg"
name = "Kongsberg kommune"
calendar = "ews1"

[connectors.ews1]
type = "ews"
url = "https://mail.kongsberg.test/EWS/Exchange.asmx"
username = "KOMMUNE\\\\svc-samtek"
password = "env:SAMTEK_EWS_PASSWORD"
max_concurrency = 12

[connectors.m365]
type = "graph"
tenant_id = "tenant"
client_id = "app"
client_secret = "env:SAMTEK_GRAPH_SECRET"

[[people]]
id = "alice"
jid = "alice@region.test"
name = "Alice Hansen"
municipality = "kongsberg"
calendars = [{ address = "alice@kongsberg.test" }]

[[people]]
id = "bob"
jid = "bob@region.test"
name = "Bob Berg"
municipality = "kongsberg"
calendars = [{ source = "m365", address = "bob@kongsberg.test" }]
"""
TYPES: dict[str, type[Connector]] = {"ews": EwsConnector, "graph": GraphConnector}


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAMTEK_TEST_SECRET", "x")
    monkeypatch.setenv("SAMTEK_EWS_PASSWORD", "ews-pw")
    monkeypatch.setenv("SAMTEK_GRAPH_SECRET", "graph-secret")


def test_sections_load_with_resolved_secrets(tmp_path: Path, secrets: None) -> None:
    path = tmp_path / "samtek.toml"
    path.write_text(CONFIG)
    config = load_config(path, TYPES)
    ews, graph = config.connectors["ews1"], config.connectors["m365"]
    assert isinstance(ews, EwsConfig) and isinstance(graph, GraphConfig)
    assert (ews.password.get_secret_value(), ews.max_concurrency, ews.auth_type) == (
        "ews-pw",
        12,
        "ntlm",
    )
    assert graph.client_secret.get_secret_value() == "graph-secret"
    assert graph.per_mailbox_concurrency == 4
    assert config.people["alice"].calendars == (CalendarRef("ews1", "alice@kongsberg.test"),)
    assert config.people["bob"].calendars == (CalendarRef("m365", "bob@kongsberg.test"),)


def test_literal_secret_is_refused(tmp_path: Path, secrets: None) -> None:
    path = tmp_path / "samtek.toml"
    path.write_text(CONFIG.replace('"env:SAMTEK_EWS_PASSWORD"', '"hunter2"'))
    with pytest.raises(ConfigError, match="password") as failure:
        load_config(path, TYPES)
    assert "hunter2" not in str(failure.value)


def test_limits_are_enforced(tmp_path: Path, secrets: None) -> None:
    path = tmp_path / "samtek.toml"
    path.write_text(CONFIG.replace("max_concurrency = 12", "max_concurrency = 40\nsurprise = 1"))
    with pytest.raises(ConfigError) as failure:
        load_config(path, TYPES)
    text = str(failure.value)
    assert "max_concurrency" in text and "surprise" in text
