"""Plain slixmpp clients standing in for people's ordinary XMPP clients in tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from slixmpp import ClientXMPP
from slixmpp.stanza import Message, Presence


@dataclass(frozen=True)
class SeenPresence:
    sender: str  # full JID
    type: str  # available / unavailable
    show: str  # "" when available without <show/>
    status: str
    at: float  # time.time() when received


class TestClient:
    """Logs in, sends its own presence, and records every presence it receives."""

    __test__ = False  # not a pytest class

    def __init__(
        self, jid: str, password: str, port: int, show: str = "", status: str = ""
    ) -> None:
        self.jid, self.password, self.port = jid, password, port
        self.show, self.status = show, status
        self.seen: asyncio.Queue[SeenPresence] = asyncio.Queue()
        self.xmpp: ClientXMPP | None = None

    async def connect(self, on_message: Callable[[Message], None] | None = None) -> None:
        """Log in; `on_message` sees every message from before the session starts."""
        xmpp = ClientXMPP(self.jid, self.password)
        xmpp.enable_plaintext = True  # loopback test server without TLS
        xmpp.plugin["feature_mechanisms"].unencrypted_plain = True
        started: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def on_start(_: object) -> None:
            xmpp.send_presence(pshow=self.show or None, pstatus=self.status or None)
            if not started.done():
                started.set_result(None)

        xmpp.add_event_handler("session_start", on_start)
        xmpp.add_event_handler("presence", self._on_presence)
        if on_message is not None:
            xmpp.add_event_handler("message", on_message)
        xmpp.connect("127.0.0.1", self.port)
        await asyncio.wait_for(started, 10)
        self.xmpp = xmpp

    def _on_presence(self, presence: Presence) -> None:
        kind = presence["type"]
        if kind not in ("available", "unavailable", "dnd", "away", "xa", "chat"):
            return
        self.seen.put_nowait(
            SeenPresence(
                sender=str(presence["from"]),
                type="unavailable" if kind == "unavailable" else "available",
                show=presence["show"] or "",
                status=presence["status"] or "",
                at=time.time(),
            )
        )

    def set_presence(self, show: str = "", status: str = "") -> None:
        assert self.xmpp is not None
        self.xmpp.send_presence(pshow=show or None, pstatus=status or None)

    async def next_from(self, bare: str, timeout: float = 10.0) -> SeenPresence:
        """The next presence received from `bare` (others are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{self.jid}: no presence from {bare} within {timeout} s")
            seen = await asyncio.wait_for(self.seen.get(), remaining)
            if seen.sender.split("/")[0] == bare:
                return seen

    def drain(self) -> list[SeenPresence]:
        items = []
        while not self.seen.empty():
            items.append(self.seen.get_nowait())
        return items

    async def disconnect(self) -> None:
        if self.xmpp is not None:
            self.xmpp.disconnect(wait=0.5)
            await asyncio.sleep(0.1)
            self.xmpp.abort()
            self.xmpp = None
