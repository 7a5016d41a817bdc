"""A failing `møte` tells the user something useful and a reference, never the server's text.

Anna's calendar is a CalDAV collection on a real Radicale that does not exist, so booking
fails with an HTTP error naming the server and the path. The chat answer must not repeat
it; the log line with the same reference has the details.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from samtek.devserver.prosody import ProsodyServer
from tests.admin.test_secret_redaction import json_logs_at_debug
from tests.assistant.chat_client import ChatClient
from tests.assistant.region import ASKERS, OTHERS, write_region
from tests.assistant.test_meeting_caldav import SERVICE_PASSWORD, dav_section, radicale
from tests.conftest import RunningService
from tests.servers.radicale import RadicaleServer

__all__ = ["radicale"]  # the fixture, used by name


async def test_a_failed_booking_gives_a_reference_not_the_servers_error(
    prosody: ProsodyServer,
    samtek_service: type[RunningService],
    radicale: RadicaleServer,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    for name in ASKERS + OTHERS:
        prosody.add_user(name, "pw")
    await prosody.start()
    secret = tmp_path / "dav.secret"
    secret.write_text(SERVICE_PASSWORD)
    missing = radicale.calendar_url("anna", "no-such-calendar")
    region = write_region(
        tmp_path,
        prosody,
        rate_burst=50,
        extra_config=dav_section(radicale, secret),
        calendars={"anna": ("dav", missing)},
    )
    with json_logs_at_debug():  # the service stops inside: its loggers write to the capture
        service = samtek_service(region.config)
        await service.start()
        anna = ChatClient(prosody.jid("anna"), "pw", prosody.c2s_port, prosody.component_jid)
        await anna.connect()
        try:
            day = region.day
            answer = await anna.ask(f"møte kari nordmann {day.day}.{day.month}. kl 10: Plan")
        finally:
            await anna.disconnect()
            await service.stop()
    assert answer.startswith("Kunne ikke booke møtet: kalenderserveren din avviste det")
    for internal in ("127.0.0.1", "no-such-calendar", "http", "PUT", "->"):
        assert internal not in answer
    found = re.search(r"Referanse ([0-9a-f]{8}) ", answer)
    assert found is not None, answer
    logged = [
        json.loads(line)
        for line in capfd.readouterr().err.splitlines()
        if line.startswith("{") and f'"{found.group(1)}"' in line
    ]
    assert [entry["event"] for entry in logged] == ["meeting not booked"]
    assert "no-such-calendar" in logged[0]["error"]
