"""Wiring of the switchboard console (called from the composition root)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aiohttp import web

from bridges.switchboard.actions import MessageSender
from bridges.switchboard.console import LivePresence, Switchboard
from bridges.switchboard.routes import MAX_BODY, build_app
from bridges.switchboard.settings import SwitchboardSection
from samtek.clock import SystemClock
from samtek.directory import DirectoryService
from samtek.health import HealthReporter
from samtek.store import Store
from samtek.store.audit import AuditLog

__all__ = ["MAX_BODY", "build_switchboard"]


def build_switchboard(
    settings: SwitchboardSection,
    directory: DirectoryService,
    presence: LivePresence,
    sender: MessageSender,
    connectors: Mapping[str, object],
    store: Store,
    municipalities: Sequence[tuple[str, str]],
) -> tuple[Switchboard, web.Application]:
    switchboard = Switchboard(
        settings, directory, presence, sender, connectors, AuditLog(store.db),
        dict(municipalities), SystemClock(), HealthReporter("switchboard"),
    )  # fmt: skip
    return switchboard, build_app(switchboard)
