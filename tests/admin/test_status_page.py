"""The status page in a real headless Chromium: a screenshot, and the failing connector in red.

Needs the Debian package `chromium`. The screenshot goes to artifacts/ at the repository root.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import aiohttp

from tests.admin.conftest import AdminRegion
from tests.admin.png import find_band

RED_BACKGROUND = (0xFD, 0xE2, 0xE2)

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=1200,800",
)  # fmt: skip


def chromium() -> str:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        raise RuntimeError(
            "chromium not found: apt-get install -y --no-install-recommends chromium"
        )
    return binary


async def run_chromium(*args: str) -> bytes:
    profile = tempfile.mkdtemp(prefix="samtek-chromium-")
    try:
        process = await asyncio.create_subprocess_exec(
            chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            out, err = await asyncio.wait_for(process.communicate(), 60)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise
        if process.returncode != 0:
            raise RuntimeError(f"chromium failed ({process.returncode}): {err.decode()[-2000:]}")
        return out
    finally:
        shutil.rmtree(profile, ignore_errors=True)


class PartRows(HTMLParser):
    """data-part -> (class, data-state) of every row in the rendered DOM."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, tuple[str, str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "tr" and values.get("data-part"):
            self.rows[values["data-part"] or ""] = (
                values.get("class") or "",
                values.get("data-state") or "",
            )


async def test_status_page_shows_the_failing_connector_in_red(admin_region: AdminRegion) -> None:
    url = f"{admin_region.base}/admin/status"
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "status-page.png"
    screenshot.unlink(missing_ok=True)

    await run_chromium(f"--screenshot={screenshot}", url)
    assert screenshot.exists() and screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    dom = (await run_chromium("--dump-dom", url)).decode()
    rows = PartRows()
    rows.feed(dom)
    assert rows.rows["connector:staff"] == ("failing", "failing")
    assert rows.rows["connector:feeds"] == ("ok", "ok")
    assert "People: 2" in dom

    # The browser really painted a red band (tr.failing's #fde2e2) across the table.
    band = await asyncio.to_thread(find_band, screenshot.read_bytes(), RED_BACKGROUND, 600)
    assert band is not None, "no red row in the screenshot"

    # public_status = true in this region: the page is served without a token; the JSON
    # API next to it is not.
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as response:
            assert response.status == 200
        async with http.get(f"{admin_region.base}/admin/connectors") as response:
            assert response.status == 401


async def test_status_page_says_cause_fix_countdown_and_charts(admin_region: AdminRegion) -> None:
    service = admin_region.service
    assert service.admin is not None and service.admin.history is not None
    assert service.presence is not None
    for _ in range(100):  # kari's meeting is on: the bridge overlays her
        if "kari" in service.presence.overlaid():
            break
        await asyncio.sleep(0.05)
    service.admin.history.sample()
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{admin_region.base}/admin/status") as response,
    ):
        html = await response.text()
    # the LDAP connector's port is closed: said in words, with what to change
    assert "the server does not answer" in html
    assert "Fix: check that it runs and that the connector&#x27;s address and port" in html
    assert re.search(r"in \d+ s \(<time", html), "the next retry reads as a countdown"
    assert "People overlaid now, kongsberg: 1 now" in html
    assert "Presence transitions per minute" in html
    screenshot = ARTIFACTS / "status-page-charts.png"
    ARTIFACTS.mkdir(exist_ok=True)
    await run_chromium(f"--screenshot={screenshot}", f"{admin_region.base}/admin/status")
