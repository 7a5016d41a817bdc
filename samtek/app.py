"""The composition root: builds every part from the config and runs them under one supervisor.

Order of start matters only in one place: bridges subscribe to the bus when they are built,
before any connector starts, so no early event is lost. Everything opened here is closed by one
AsyncExitStack in reverse order.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import structlog
from slixmpp.stanza import Message

from bridges.presence import PresenceBridge
from bridges.telephony import MissedCallNotifier
from samtek.bus import Bus
from samtek.config import Config
from samtek.directory import StaticDirectory
from samtek.events import ManualPresenceChange
from samtek.health import HealthReporter
from samtek.model import Show
from samtek.plugin import ConnectorContext, discover_connectors
from samtek.runtime.leases import LeaseManager
from samtek.runtime.supervisor import Supervisor
from samtek.store import open_store
from samtek.web import WebServer
from samtek.xmpp.link import XmppLink
from samtek.xmpp.overlay import NS as OVERLAY_NS
from samtek.xmpp.overlay import PresenceOverlays

log = structlog.get_logger("samtek.app")


class Service:
    """What `samtek run` runs. Exposes its parts read-only for the admin side and tests."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.bus = Bus()
        self.directory = StaticDirectory(config.people)
        self.supervisor = Supervisor()
        self.presence: PresenceBridge | None = None
        self.link: XmppLink | None = None
        self.leases: LeaseManager | None = None
        self.missed_calls: MissedCallNotifier | None = None
        self.web = WebServer(config.file.http, HealthReporter("http"))

    async def run(self, ready: asyncio.Event | None = None) -> None:
        async with AsyncExitStack() as stack:
            store = await stack.enter_async_context(open_store(self.config.store.url))
            # Several instances on one PostgreSQL share people by partition; alone, owns all.
            self.leases = LeaseManager(store.db, self.config.file.cluster, HealthReporter("leases"))
            self.supervisor.add("leases", self.leases.run, self.leases.health)
            self.link = XmppLink(self.config.xmpp, HealthReporter("xmpp"))
            overlays = PresenceOverlays(self.link, self.config.xmpp.domain)
            self.presence = PresenceBridge(
                self.directory,
                self.bus,
                store,
                overlays,
                self.config.presence,
                HealthReporter("presence"),
            )
            self.link.on_ready(self.presence.on_xmpp_ready)
            self.link.on_message(f"{{{OVERLAY_NS}}}dismissed", self._on_dismissed)
            self.supervisor.add("xmpp", self.link.run, self.link.health)
            self.supervisor.add("presence", self.presence.run, self.presence._health)
            self.missed_calls = MissedCallNotifier(
                self.directory, self.bus, store, self.link, HealthReporter("missed-calls")
            )
            self.link.on_ready(self.missed_calls.on_xmpp_ready)
            self.supervisor.add("missed-calls", self.missed_calls.run, self.missed_calls.health)

            self.supervisor.add("http", self.web.run, self.web.health)

            types = discover_connectors()
            for name, connector_config in self.config.connectors.items():
                health = HealthReporter(f"connector:{name}")
                ctx = ConnectorContext(name, self.directory, self.bus, health, store, self.web)
                connector = types[connector_config.type](connector_config, ctx)
                self.supervisor.add(f"connector:{name}", connector.run, health)

            await self.supervisor.start()
            stack.push_async_callback(self.supervisor.stop)
            log.info(
                "samtek running",
                people=len(self.config.people),
                connectors=len(self.config.connectors),
            )
            if ready is not None:
                ready.set()
            await asyncio.Event().wait()

    async def _on_dismissed(self, message: Message) -> None:
        item = message.xml.find(f"{{{OVERLAY_NS}}}dismissed")
        if item is None or message["from"].bare != self.config.xmpp.domain:
            return  # only the server itself reports dismissals
        status = item.find(f"{{{OVERLAY_NS}}}status")
        show = item.attrib.get("show", "available")
        await self.bus.publish(
            ManualPresenceChange(
                jid=item.attrib["jid"],
                show=Show(show) if show in Show._value2member_map_ else Show.AVAILABLE,
                status=status.text if status is not None else None,
                dismissed_transition=item.attrib["transition"],
            )
        )
