"""The examples in deploy/rooms.md are valid: the [rooms] section loads through the real
config loader, and the spec file passes validation and resolution."""

from __future__ import annotations

import re
from pathlib import Path

from bridges.rooms.spec import read_specs, resolve
from samtek.config import load_config
from samtek.plugin import discover_connectors

DOC = Path(__file__).resolve().parents[2] / "deploy" / "rooms.md"


def toml_blocks() -> list[str]:
    return re.findall(r"```toml\n(.*?)```", DOC.read_text(), re.S)


def test_config_and_spec_examples(tmp_path: Path) -> None:
    section, spec = toml_blocks()
    secret = tmp_path / "secret"
    secret.write_text("x")
    config_path = tmp_path / "samtek.toml"
    config_path.write_text(
        f"""
[xmpp]
domain = "region.test"
component_jid = "samtek.region.test"
component_secret = "file:{secret}"

[[municipalities]]
id = "kongsberg"
name = "Kongsberg kommune"

[[people]]
id = "kari"
jid = "kari@region.test"
name = "Kari"
municipality = "kongsberg"

[[people]]
id = "ola"
jid = "ola@region.test"
name = "Ola"
municipality = "kongsberg"
{section}"""
    )
    config = load_config(config_path, discover_connectors())
    assert config.file.rooms is not None
    assert config.file.rooms.spec_dir == "rooms"
    (tmp_path / "rooms").mkdir()
    (tmp_path / "rooms" / "veg.toml").write_text(spec)
    [room] = resolve(
        read_specs(tmp_path / "rooms"),
        config.people,
        "conference.region.test",
        extra_groups=config.file.rooms.groups,
    )
    assert room.jid == "e134-damasen@conference.region.test"
    assert room.members == {"ola@region.test", "per@nabokommune.no"}
