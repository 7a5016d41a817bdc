"""A person's ordinary XMPP client that chats with the assistant (plain slixmpp)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from slixmpp import JID
from slixmpp.stanza import Message

from tests.xmpp_clients import TestClient


class ChatClient(TestClient):
    """Logs in like TestClient and also records every chat message it receives."""

    __test__ = False

    def __init__(self, jid: str, password: str, port: int, assistant: str) -> None:
        super().__init__(jid, password, port)
        self.assistant = assistant
        self.inbox: asyncio.Queue[tuple[str, str, float]] = asyncio.Queue()

    async def connect(self, on_message: Callable[[Message], None] | None = None) -> None:
        def both(message: Message) -> None:
            self._on_message(message)
            if on_message is not None:
                on_message(message)

        await super().connect(on_message=both)

    def _on_message(self, message: Message) -> None:
        if message["type"] in ("chat", "normal") and message["body"]:
            self.inbox.put_nowait((message["from"].bare, str(message["body"]), time.monotonic()))

    def say(self, text: str, to: str | None = None) -> None:
        assert self.xmpp is not None
        self.xmpp.send_message(mto=JID(to or self.assistant), mbody=text, mtype="chat")

    async def next_reply(self, timeout: float = 20.0, sender: str | None = None) -> str:
        """The next chat message from the assistant (or `sender`); a hang guard, not a bound."""
        wanted = sender or self.assistant
        async with asyncio.timeout(timeout):
            while True:
                frm, body, _ = await self.inbox.get()
                if frm == wanted:
                    return body

    async def ask(self, text: str, timeout: float = 20.0) -> str:
        self.say(text)
        return await self.next_reply(timeout)
