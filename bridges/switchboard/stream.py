"""Live updates to the open console pages over Server-Sent Events.

Each page has a bounded queue of ready-made SSE chunks. A batch of changed rows is encoded
once and offered to every page; a page whose queue is full is too slow to follow: it is
dropped (its connection aborted) rather than buffered without bound or allowed to hold the
others back. The browser's EventSource reconnects by itself and the page reloads its rows.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

import structlog

log = structlog.get_logger("samtek.switchboard.stream")


@dataclass(eq=False)
class StreamClient:
    username: str
    queue: asyncio.Queue[bytes]
    transport: asyncio.Transport | None = None
    closed: asyncio.Event = field(default_factory=asyncio.Event)


def sse(event: str, data: object) -> bytes:
    """One SSE message; JSON never contains a raw newline, so one data line suffices."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"event: {event}\ndata: {text}\n\n".encode()


class Hub:
    def __init__(self, queue_size: int, max_clients: int) -> None:
        self._queue_size = queue_size
        self._max_clients = max_clients
        self._clients: set[StreamClient] = set()
        self.dropped = 0  # pages dropped for being too slow, since start

    def __len__(self) -> int:
        return len(self._clients)

    def connect(self, username: str, transport: asyncio.Transport | None) -> StreamClient | None:
        """A new page; None when the limit of open pages is reached."""
        if len(self._clients) >= self._max_clients:
            return None
        client = StreamClient(username, asyncio.Queue(self._queue_size), transport)
        self._clients.add(client)
        return client

    def disconnect(self, client: StreamClient) -> None:
        self._clients.discard(client)

    def broadcast(self, chunk: bytes) -> None:
        for client in tuple(self._clients):
            self._offer(client, chunk)

    def send_to(self, username: str, chunk: bytes) -> None:
        for client in tuple(self._clients):
            if client.username == username:
                self._offer(client, chunk)

    def close_user(self, username: str) -> None:
        for client in tuple(self._clients):
            if client.username == username:
                self._close(client)

    def close_all(self) -> None:
        """End every page's stream (shutdown: the server waits for open handlers)."""
        for client in tuple(self._clients):
            self._close(client)

    def _offer(self, client: StreamClient, chunk: bytes) -> None:
        try:
            client.queue.put_nowait(chunk)
        except asyncio.QueueFull:
            self.dropped += 1
            log.info("slow console page dropped", operator=client.username)
            self._close(client)
            if client.transport is not None:
                client.transport.abort()  # a write blocked on a full socket ends now

    def _close(self, client: StreamClient) -> None:
        self._clients.discard(client)
        client.closed.set()
