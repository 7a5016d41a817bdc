"""`samtek presence explain` reads the stored calendars and names the winning claim."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from samtek.cli import main
from samtek.events import CalendarUpdate
from samtek.model import BusyStatus, CalendarEvent, TimeWindow
from samtek.store import open_store


async def test_explain_names_active_claims_and_winner(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAMTEK_TEST_SECRET", "x")
    config = tmp_path / "samtek.toml"
    config.write_text(f"""
[xmpp]
domain = "region.test"
component_jid = "samtek.region.test"
component_secret = "env:SAMTEK_TEST_SECRET"
[store]
url = "sqlite:///{tmp_path}/state.db"
[[municipalities]]
id = "k"
name = "K"
calendar = "feeds"
[connectors.feeds]
type = "ical"
[[people]]
id = "alice"
jid = "alice@region.test"
name = "Alice Hansen"
municipality = "k"
language = "en"
calendars = [{{ address = "/tmp/alice.ics" }}]
""")
    now = datetime.now(UTC)
    events = (
        CalendarEvent("m", now - timedelta(minutes=5), now + timedelta(minutes=30)),
        CalendarEvent(
            "t", now - timedelta(minutes=5), now + timedelta(hours=2), busy=BusyStatus.TENTATIVE
        ),
    )
    async with open_store(f"sqlite:///{tmp_path}/state.db") as store:
        await store.save_calendar(
            CalendarUpdate(
                "feeds",
                "alice",
                TimeWindow(now - timedelta(days=1), now + timedelta(days=1)),
                events,
            )
        )
    code = await _run_cli(["presence", "explain", "alice@region.test", "--config", str(config)])
    out = capsys.readouterr().out
    assert code == 0
    assert "* IN_MEETING" in out and "+ TENTATIVE" in out
    assert 'effective: dnd "In a meeting until' in out
    assert "IN_MEETING has the highest precedence of 2 active claim(s)" in out


async def _run_cli(argv: list[str]) -> int:
    # The CLI runs its own event loop: call it from a worker thread.
    import asyncio

    return await asyncio.to_thread(main, argv)
