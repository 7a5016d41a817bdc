"""[admin] config errors name the key: short or missing tokens, duplicate names, bad roles."""

from __future__ import annotations

from pathlib import Path

import pytest

from samtek.config import ConfigError, load_config
from samtek.plugin import discover_connectors

HEAD = """
[xmpp]
domain = "region.test"
component_jid = "samtek.region.test"
component_secret = "file:{secret}"
"""


def load(tmp_path: Path, admin: str) -> list[str]:
    secret = tmp_path / "secret"
    secret.write_text("component-secret")
    (tmp_path / "short.token").write_text("short")
    (tmp_path / "good.token").write_text("a-long-enough-admin-token")
    path = tmp_path / "samtek.toml"
    path.write_text(HEAD.format(secret=secret) + admin.format(dir=tmp_path))
    try:
        load_config(path, discover_connectors())
    except ConfigError as exc:
        return exc.errors
    return []


@pytest.mark.parametrize(
    ("admin", "expected"),
    [
        ('[admin]\ntokens = [{{ name = "a", token = "file:{dir}/short.token" }}]',
         "admin.tokens[0].token: admin tokens must have at least 16 characters"),
        ('[admin]\ntokens = [{{ name = "a", token = "env:SAMTEK_NO_SUCH_VARIABLE" }}]',
         "admin.tokens[0].token: environment variable SAMTEK_NO_SUCH_VARIABLE is not set"),
        ('[admin]\ntokens = [{{ name = "a", token = "a-literal-token-in-the-file" }}]',
         "admin.tokens[0].token: expected a secret reference"),
        ('[admin]\ntokens = [{{ name = "a", token = "file:{dir}/good.token", role = "root" }}]',
         "admin.tokens[0].role"),
        ('[admin]\ntokens = [{{ name = "a", token = "file:{dir}/good.token" }},'
         ' {{ name = "a", token = "file:{dir}/good.token" }}]',
         "duplicate token names: a"),
        ("[admin]\npublic_stats = true", "admin.public_stats: unknown key (did you mean"),
    ],
)  # fmt: skip
def test_admin_section_errors_name_the_key(tmp_path: Path, admin: str, expected: str) -> None:
    errors = load(tmp_path, admin)
    assert any(expected in e for e in errors), errors


def test_valid_admin_section(tmp_path: Path) -> None:
    assert (
        load(tmp_path, '[admin]\ntokens = [{{ name = "a", token = "file:{dir}/good.token" }}]')
        == []
    )
