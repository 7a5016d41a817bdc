"""The configuration in deploy/ejabberd/README.md is what ejabberd 23.01 accepts: its module
options and MUC settings start a server on which the component's overlay, OOF list and
bookmark requests are answered."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from textwrap import dedent
from typing import Any
from xml.etree import ElementTree as ET

import yaml

from samtek.devserver.ejabberd import EjabberdServer
from tests.overlay.helpers import PASSWORD, Component, until_in

DOC = Path(__file__).resolve().parents[2] / "deploy" / "ejabberd" / "README.md"


def test_readme_build_commands_compile_the_modules_without_warnings(tmp_path: Path) -> None:
    (script,) = re.findall(r"```sh\n(.*?)```", DOC.read_text(), re.S)
    script = dedent(script).replace("/tmp/samtek-beams", str(tmp_path))
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=DOC.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout + result.stderr == ""  # no warnings
    modules = {p.stem for p in DOC.parent.glob("*.erl")}
    assert {p.stem for p in tmp_path.glob("*.beam")} == modules


def yaml_blocks() -> list[dict[str, Any]]:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S)
    return [yaml.safe_load(dedent(block)) for block in blocks]


async def test_readme_configuration_starts_and_serves_the_component() -> None:
    modules_block, muc_block = yaml_blocks()
    modules = dict(modules_block["modules"])
    muc = dict(muc_block["modules"]["mod_muc"])
    muc["host"] = "conference.@HOST@"
    # The README's modules replace the harness's (mod_muc on the harness's MUC host).
    extra = {**modules, **muc_block["modules"], "mod_muc": muc}
    server = EjabberdServer(overlay=False, extra_modules=extra)
    # The README's trusted JID is the harness's component JID: the same region.test names.
    assert modules["mod_samtek_overlay"]["trusted"] == [server.component_jid]
    assert muc_block["acl"]["samtek"]["server"] == server.component_jid
    server.add_user("alice", PASSWORD)
    async with server:
        component = Component(server)  # type: ignore[arg-type]
        await component.connect()
        try:
            await component.set(server.jid("alice"), "dnd", "t1", until_in(600), "meeting")
            assert [e.get("transition") for e in await component.list()] == ["t1"]
            oof = ET.Element("{urn:samtek:oof:0}oof")
            ET.SubElement(oof, "{urn:samtek:oof:0}user", jid=server.jid("alice"), until="1")
            await component.iq("set", oof)
            bookmark = ET.Element(
                "{urn:samtek:rooms:0}bookmark",
                jid=server.jid("alice"),
                room=f"r@{server.muc_domain}",
            )
            ET.SubElement(bookmark, "{urn:xmpp:bookmarks:1}conference", name="R", autojoin="true")
            await component.iq("set", bookmark)
        finally:
            await component.close()
