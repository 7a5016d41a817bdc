"""Wiring of the assistant from the service's parts (called by samtek/app.py)."""

from __future__ import annotations

from collections.abc import Mapping

from bridges.assistant.calendars import Calendars
from bridges.assistant.chat import ChatAssistant
from bridges.assistant.context import Deps, PresenceView
from bridges.assistant.handler import CommandHandler
from bridges.assistant.ratelimit import RateLimiter
from samtek.config import Config
from samtek.health import HealthReporter
from samtek.plugin import Directory
from samtek.xmpp.link import XmppLink


def build_handler(
    config: Config,
    directory: Directory,
    presence: PresenceView | None,
    connectors: Mapping[str, object],
) -> CommandHandler:
    settings = config.file.assistant
    deps = Deps(
        directory=directory,
        presence=presence,
        calendars=Calendars(connectors, settings.calendar_timeout),
        connectors=connectors,
        municipalities={m.id: m.name for m in config.file.municipalities},
        settings=settings,
    )
    return CommandHandler(deps)


def build_chat_assistant(
    config: Config,
    link: XmppLink,
    directory: Directory,
    presence: PresenceView | None,
    connectors: Mapping[str, object],
) -> ChatAssistant:
    settings = config.file.assistant
    assistant = ChatAssistant(
        link,
        build_handler(config, directory, presence, connectors),
        directory,
        settings.domains or [config.xmpp.domain],
        RateLimiter(settings.rate_burst, settings.rate_per_seconds, settings.max_senders),
        settings.max_concurrent,
        settings.max_queued,
        HealthReporter("assistant"),
    )
    assistant.register()
    return assistant
