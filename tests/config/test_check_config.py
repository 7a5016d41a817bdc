"""`samtek check-config`: all errors at once, each naming the file and the key."""

from pathlib import Path

import pytest

from samtek.cli import main

VALID = """
[xmpp]
domain = "region.test"
component_jid = "samtek.region.test"
component_secret = "env:SAMTEK_TEST_SECRET"

[[municipalities]]
id = "kongsberg"
name = "Kongsberg kommune"
calendar = "feeds"

[connectors.feeds]
type = "ical"
refresh_interval = 60

[[people]]
id = "alice"
jid = "alice@region.test"
name = "Alice Hansen"
municipality = "kongsberg"
calendars = [{ address = "/tmp/alice.ics" }]
"""


def run_check(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    path = tmp_path / "samtek.toml"
    path.write_text(text)
    code = main(["check-config", str(path)])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_valid_config_passes(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("SAMTEK_TEST_SECRET", "s3cret")
    code, output = run_check(tmp_path, VALID, capsys)
    assert code == 0, output
    assert "1 people" in output
    assert "s3cret" not in output


def test_misspelled_key_and_missing_secret_both_reported(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    monkeypatch.delenv("SAMTEK_TEST_SECRET", raising=False)
    text = VALID.replace("refresh_interval", "refresh_intervall").replace(
        'name = "Alice Hansen"', 'name = "Alice Hansen"\nlangauge = "nn"'
    )
    code, output = run_check(tmp_path, text, capsys)
    assert code == 2
    path = tmp_path / "samtek.toml"
    lines = output.splitlines()
    assert (
        f"{path}: xmpp.component_secret: environment variable SAMTEK_TEST_SECRET is not set"
        in lines
    )
    hint = "unknown key (did you mean 'refresh_interval'?)"
    assert f"{path}: connectors.feeds.refresh_intervall: {hint}" in lines
    assert f"{path}: people[0].langauge: unknown key (did you mean 'language'?)" in lines


def test_bad_values_are_named(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("SAMTEK_TEST_SECRET", "x")
    text = (
        VALID.replace('jid = "alice@region.test"', 'jid = "not a jid"')
        .replace('type = "ical"', 'type = "icall"')
        .replace('component_secret = "env:SAMTEK_TEST_SECRET"', 'component_secret = "hunter2"')
    )
    code, output = run_check(tmp_path, text, capsys)
    assert code == 2
    assert "people[0].jid: 'not a jid' is not a bare JID" in output
    assert "connectors.feeds.type: unknown connector type 'icall'" in output
    assert "xmpp.component_secret: expected a secret reference" in output
    assert "hunter2" not in output


def test_unreadable_toml_is_a_clear_error(tmp_path: Path, capsys) -> None:
    code, output = run_check(tmp_path, "[xmpp\n", capsys)
    assert code == 2
    assert "not valid TOML" in output
