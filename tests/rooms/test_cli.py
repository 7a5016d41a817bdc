"""`samtek rooms plan|apply --config` as an admin runs it, against a real Prosody."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

from tests.e2e.regions import write_config
from tests.rooms.helpers import PASSWORD, rooms_prosody

ROOT = Path(__file__).resolve().parents[2]


async def samtek(*args: str) -> tuple[int, str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "samtek.cli", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env, cwd=ROOT,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_plan_then_apply_then_nothing(tmp_path: Path) -> None:
    prosody = rooms_prosody()
    prosody.add_user("kari", PASSWORD)
    prosody.add_user("ola", PASSWORD)
    try:
        await prosody.start()
        config = write_config(tmp_path, prosody, {"kari": "k.ics", "ola": "o.ics"})
        config.write_text(config.read_text() + '\n[rooms]\nspec_dir = "specs"\n')
        (tmp_path / "specs").mkdir()
        (tmp_path / "specs" / "r.toml").write_text(
            'id = "r"\nname = "R"\nowners = ["kari"]\nmembers = ["ola"]\n'
            'calendar = { source = "feeds", address = "r.ics" }\n'
        )
        code, out, err = await samtek("rooms", "plan", "--config", str(config))
        assert code == 0, err
        assert f"+ create r@{prosody.muc_domain}" in out
        assert f"+ r@{prosody.muc_domain}: ola@region.test none -> member" in out
        code, out, err = await samtek("rooms", "apply", "--config", str(config))
        assert code == 0, err
        assert "applied 5 change(s), 0 room(s) failed" in out
        code, out, err = await samtek("rooms", "plan", "--config", str(config))
        assert (code, out.strip()) == (0, "no changes"), err

        code, out, err = await samtek("rooms", "feeds", "--config", str(config))
        assert code == 0, err
        assert re.fullmatch(r"r\thttp://127\.0\.0\.1:0/rooms/feed/[0-9a-f]{32}\.ics\n", out), out

        (tmp_path / "specs" / "r.toml").write_text('id = "r"\nname = "R"\nowners = ["nobody"]\n')
        code, out, err = await samtek("rooms", "plan", "--config", str(config))
        assert code == 2
        assert "r.toml: owners[0]: unknown person id 'nobody'" in err
    finally:
        await prosody.stop()
        prosody.cleanup()
