"""Wiring of the assistant from the service's parts (called by samtek/app.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from bridges.assistant.calendars import Calendars
from bridges.assistant.chat import ChatAssistant
from bridges.assistant.context import Deps, PresenceView
from bridges.assistant.handler import CommandHandler
from bridges.assistant.online import ServerOnline
from bridges.assistant.oof import OofAutoReply
from bridges.assistant.ratelimit import RateLimiter
from bridges.assistant.room import ProjectRooms
from samtek.bus import Bus
from samtek.clock import SYSTEM_CLOCK, Clock
from samtek.config import Config
from samtek.health import HealthReporter
from samtek.plugin import Directory
from samtek.store import Store
from samtek.xmpp.link import XmppLink


def build_handler(
    config: Config,
    directory: Directory,
    presence: PresenceView | None,
    connectors: Mapping[str, object],
    store: Store | None = None,
    clock: Clock = SYSTEM_CLOCK,
    link: XmppLink | None = None,
    rooms: ProjectRooms | None = None,
) -> CommandHandler:
    """`link`, when given, lets `status` ask the XMPP server who is online."""
    settings = config.file.assistant
    deps = Deps(
        directory=directory,
        presence=presence,
        calendars=Calendars(connectors, settings.calendar_timeout),
        connectors=connectors,
        municipalities={m.id: m.name for m in config.file.municipalities},
        settings=settings,
        store=store,
        online=ServerOnline(link, config.xmpp.domain) if link is not None else None,
        rooms=rooms,
    )
    return CommandHandler(deps, clock)


Part = tuple[str, Callable[[], Awaitable[None]], HealthReporter]


def build_assistant(
    config: Config,
    link: XmppLink,
    directory: Directory,
    presence: PresenceView | None,
    connectors: Mapping[str, object],
    bus: Bus,
    store: Store,
    clock: Clock = SYSTEM_CLOCK,
    rooms: ProjectRooms | None = None,
) -> list[Part]:
    """The assistant's supervised parts, hooked to the link (call before the link runs).
    `rooms`: the project rooms feature, when configured (room requests, room commands)."""
    chat = build_chat_assistant(config, link, directory, presence, connectors, store, clock, rooms)
    parts: list[Part] = [("assistant", chat.run, chat.health)]
    if config.file.assistant.oof_autoreply:
        oof = OofAutoReply(link, directory, bus, store, config.xmpp.domain, clock)
        oof.register()
        parts.append(("assistant-oof", oof.run, oof.health))
    return parts


def build_chat_assistant(
    config: Config,
    link: XmppLink,
    directory: Directory,
    presence: PresenceView | None,
    connectors: Mapping[str, object],
    store: Store | None = None,
    clock: Clock = SYSTEM_CLOCK,
    rooms: ProjectRooms | None = None,
) -> ChatAssistant:
    settings = config.file.assistant
    assistant = ChatAssistant(
        link,
        build_handler(config, directory, presence, connectors, store, clock, link, rooms),
        directory,
        settings.domains or [config.xmpp.domain],
        RateLimiter(settings.rate_burst, settings.rate_per_seconds, settings.max_senders),
        settings.max_concurrent,
        settings.max_queued,
        HealthReporter("assistant", clock),
        rooms,
    )
    assistant.register()
    return assistant
