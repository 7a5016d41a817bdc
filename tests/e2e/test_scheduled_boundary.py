"""At the boundary only the server works: SAMTEK schedules the meeting ahead on Prosody, the
contact sees it start and end on time, and SAMTEK sends nothing at (or after) either
boundary: its own boundary timers find that the server already did it.

What SAMTEK sends is read off the wire: its component stream goes through a TCP relay that
records every chunk it forwards, with the time it did.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import zlib
from datetime import timedelta
from pathlib import Path

from samtek.devserver.prosody import ProsodyServer
from tests.e2e.regions import ics_meeting, next_whole_second, write_config, write_ics
from tests.e2e.test_calendar_presence import online_pair, setup_users

OVERLAY_NS = b"urn:samtek:presence-overlay:0"


class Relay:
    """Forwards one TCP port to another; keeps what the client side sent, timestamped."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.sent: list[tuple[float, bytes]] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        for task in (
            asyncio.create_task(self._pipe(reader, up_writer, record=True)),
            asyncio.create_task(self._pipe(up_reader, writer, record=False)),
        ):
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, record: bool
    ) -> None:
        try:
            while chunk := await reader.read(65536):
                if record:
                    self.sent.append((time.time(), chunk))
                writer.write(chunk)
                await writer.drain()
        except ConnectionError:
            pass  # one side went away; the other is closed below
        finally:
            writer.close()

    def overlay_requests_since(self, instant: float) -> list[bytes]:
        return [chunk for at, chunk in self.sent if at >= instant and OVERLAY_NS in chunk]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_scheduled_meeting_starts_and_ends_with_nothing_sent_at_the_boundaries(
    prosody: ProsodyServer, samtek_service, tmp_path: Path
) -> None:
    setup_users(prosody)
    await prosody.start()
    relay = Relay(prosody.component_port)
    await relay.start()
    alice, bob = await online_pair(prosody)
    start = next_whole_second(2.5)
    end = start + timedelta(seconds=3)
    feed = tmp_path / "alice.ics"
    write_ics(feed, ics_meeting("m1", start, end))
    config = write_config(tmp_path, prosody, {"alice": feed})
    text = config.read_text()
    config.write_text(text.replace(f"port = {prosody.component_port}", f"port = {relay.port}"))
    try:
        await samtek_service(config).start()
        busy = await bob.next_from(prosody.jid("alice"))
        assert busy.show == "dnd" and busy.at >= start.timestamp() - 0.05
        free = await bob.next_from(prosody.jid("alice"))
        assert free.show == "" and free.at >= end.timestamp() - 0.05
        # SAMTEK checks each boundary 1-6 s after it (a fixed spread per person): wait until
        # its check of the end has run, then read what it sent.
        later = 1.0 + (zlib.crc32(b"alice") % 5000) / 1000
        await asyncio.sleep(max(0.0, end.timestamp() + later + 1.0 - time.time()))
        assert relay.overlay_requests_since(0)  # the schedule went out ahead
        assert relay.overlay_requests_since(start.timestamp() - 0.05) == []
    finally:
        await alice.disconnect()
        await bob.disconnect()
        await relay.close()
