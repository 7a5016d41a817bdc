"""The XMPP side: chat messages to the component's own JID become commands.

In a project room, members address SAMTEK ("SAMTEK: møter", "@SAMTEK møter"). SAMTEK is no
occupant of the rooms (that would bring it every message of every room): Prosody's
mod_samtek_mention forwards only the addressed messages, as an <addressed/> element from
the room's bare JID naming the sender's real JID. The answer is posted in the room.

The message hook does only cheap work (rate limit, enqueue) so a flood never delays others:
commands run in a fixed number of workers from a bounded queue. Unknown askers — not in the
directory or not of the region's domains — get a polite refusal (also rate-limited).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

import structlog
from slixmpp.stanza import Message

from bridges.assistant.handler import MAX_TEXT, CommandHandler
from bridges.assistant.ratelimit import RateLimiter, Verdict
from bridges.assistant.room import ProjectRooms
from bridges.assistant.texts import Texts
from samtek.health import HealthReporter
from samtek.model import Person
from samtek.plugin import Directory
from samtek.xmpp.link import NotConnected, XmppLink

log = structlog.get_logger("samtek.assistant")

BODY = "{jabber:component:accept}body"
NS_ROOM = "urn:samtek:room:0"
ADDRESSED = f"{{{NS_ROOM}}}addressed"
# Characters kept of a body: one more than a command may have, so the handler still sees
# (and answers) that it was too long, without copying a huge body around.
MAX_BODY = MAX_TEXT + 1


class ChatAssistant:
    def __init__(
        self,
        link: XmppLink,
        handler: CommandHandler,
        directory: Directory,
        domains: Iterable[str],
        limiter: RateLimiter,
        workers: int,
        max_queued: int,
        health: HealthReporter,
        rooms: ProjectRooms | None = None,
    ) -> None:
        self._link = link
        self._handler = handler
        self._directory = directory
        self._domains = {d.lower() for d in domains}
        self._limiter = limiter
        self._workers = workers
        # (asker's JID, text, the room's JID or "" for a direct chat)
        self._queue: asyncio.Queue[tuple[str, str, str]] = asyncio.Queue(max_queued)
        self.health = health
        self._rooms = rooms

    def register(self) -> None:
        self._link.on_message(BODY, self.on_message)
        if self._rooms is not None:
            self._link.on_message(ADDRESSED, self.on_room_message)

    def asker(self, jid: str) -> Person | None:
        """The person behind `jid` if they may use the assistant."""
        person = self._directory.by_jid(jid)
        domain = jid.split("/", 1)[0].rpartition("@")[2].lower()
        return person if person is not None and domain in self._domains else None

    async def on_message(self, message: Message) -> None:
        if message["type"] not in ("chat", "normal"):
            return  # never answer errors or groupchat: that could loop
        if message["to"].bare != self._link.jid or not message["from"].user:
            return  # other addresses at the component belong to other features
        body = str(message["body"])[:MAX_BODY]
        if not body.strip():
            return
        sender = str(message["from"])
        verdict = self._limiter.check(message["from"].bare, time.monotonic())
        if verdict is Verdict.DROP:
            return
        if verdict is Verdict.WARN:
            self._send(sender, self._texts(sender)("slow_down"))
            return
        self._enqueue(sender, body, "")

    async def on_room_message(self, message: Message) -> None:
        """A message addressed to SAMTEK in a room, forwarded by the room's MUC service."""
        if self._rooms is None or message["type"] == "error" or message["from"].resource:
            return
        room = self._rooms.room(message["from"].bare)
        if room is None:
            return  # only managed, active rooms: anyone else could send this element
        addressed = message.xml.find(ADDRESSED)
        if addressed is None:
            return
        sender = addressed.get("jid", "")
        body = (addressed.text or "")[:MAX_BODY]
        if not body.strip() or self.asker(sender) is None:
            return  # guests in a room get no answer: no noise for the members
        verdict = self._limiter.check(sender.split("/", 1)[0].lower(), time.monotonic())
        if verdict is Verdict.DROP:
            return
        if verdict is Verdict.WARN:
            room.say(Texts(room.language, room.timezone)("slow_down"))
            return
        self._enqueue(sender, body, room.room_jid)

    def _enqueue(self, sender: str, body: str, room: str) -> None:
        try:
            self._queue.put_nowait((sender, body, room))
        except asyncio.QueueFull:
            log.warning("assistant queue full; message dropped", sender=sender, room=room)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            for index in range(self._workers):
                group.create_task(self._work(), name=f"assistant-{index}")
            self.health.success()

    async def _work(self) -> None:
        while True:
            sender, body, room = await self._queue.get()
            try:
                if room:
                    await self._answer_in_room(sender, body, room)
                else:
                    await self._answer(sender, body)
            except NotConnected:
                log.warning("reply lost: not connected", sender=sender)
            except Exception:  # one bad message must not stop the worker
                log.exception("assistant failed on a message", sender=sender)

    async def _answer(self, sender: str, body: str) -> None:
        person = self.asker(sender)
        if person is None:
            refusal = "\n".join(Texts(lang, "UTC")("refuse_unknown") for lang in ("nb", "en"))
            self._send(sender, refusal)
            return

        async def reply(text: str) -> None:
            self._send(sender, text)

        await self._handler.handle(person, body, reply)

    async def _answer_in_room(self, sender: str, body: str, room_jid: str) -> None:
        person = self.asker(sender)
        room = self._rooms.room(room_jid) if self._rooms is not None else None
        if person is None or room is None:
            return  # removed from the directory, or the room closed, while queued

        async def reply(text: str) -> None:
            room.say(text)

        await self._handler.handle(person, body, reply, room=room)

    def _texts(self, sender: str) -> Texts:
        person = self.asker(sender)
        return Texts(person.language, person.timezone) if person else Texts("nb", "UTC")

    def _send(self, to: str, body: str) -> None:
        self._link.send_message(to, body)
