"""The composition root: builds every part from the config and runs them under one supervisor.

Order of start matters only in one place: bridges subscribe to the bus when they are built,
before any connector starts, so no early event is lost. Everything opened here is closed by one
AsyncExitStack in reverse order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from contextlib import AsyncExitStack

import structlog
from slixmpp.stanza import Message

from bridges.assistant.build import build_assistant
from bridges.dnd import DndBridge
from bridges.presence import PresenceBridge
from bridges.rooms.bridge import RoomsBridge
from bridges.rooms.chat import RoomsForChat
from bridges.switchboard.build import MAX_BODY as SWITCHBOARD_MAX_BODY
from bridges.switchboard.build import build_switchboard
from bridges.switchboard.console import Switchboard
from bridges.telephony import MissedCallNotifier
from samtek.admin.context import AdminContext
from samtek.admin.metrics import MeteredLink, MeteredOverlays, ServiceMetrics
from samtek.admin.wiring import mount_admin
from samtek.bus import Bus
from samtek.clock import SYSTEM_CLOCK, Clock
from samtek.config import Config
from samtek.directory import DirectoryService, LivePeople
from samtek.events import ManualPresenceChange
from samtek.health import HealthReporter
from samtek.model import Show
from samtek.plugin import Connector, ConnectorContext, discover_connectors
from samtek.runtime.leases import LeaseManager
from samtek.runtime.supervisor import Supervisor
from samtek.served import Served
from samtek.store import open_store
from samtek.store.retention import Retention
from samtek.web import WebServer
from samtek.xmpp.link import XmppLink
from samtek.xmpp.overlay import NS as OVERLAY_NS

log = structlog.get_logger("samtek.app")


class Service:
    """What `samtek run` runs. Exposes its parts read-only for the admin side and tests."""

    def __init__(
        self,
        config: Config,
        connector_types: Mapping[str, type[Connector]] | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.config = config
        self.clock = clock  # the one "now" of every part (tests: a ShiftedClock)
        self._connector_types = connector_types  # None: the installed entry points
        self.bus = Bus()
        self.metrics = ServiceMetrics()  # per Service: no global registry
        self.directory = DirectoryService(config.people, config.file.municipalities, self.bus)
        self.supervisor = Supervisor(clock=clock)
        self.presence: PresenceBridge | None = None
        self.link: XmppLink | None = None
        self.leases: LeaseManager | None = None
        self.served: Served | None = None  # what this instance's connectors read, once running
        self.rooms: RoomsBridge | None = None
        self.switchboard: Switchboard | None = None
        self.connectors: dict[str, Connector] = {}  # running instances by config name
        self.missed_calls: MissedCallNotifier | None = None
        self.dnd: DndBridge | None = None
        self.admin: AdminContext | None = None  # once running
        self.web = WebServer(config.file.http, HealthReporter("http", clock))

    async def run(self, ready: asyncio.Event | None = None) -> None:
        async with AsyncExitStack() as stack:
            # exclusive: a second service on the same SQLite file is refused (StoreInUse).
            store = await stack.enter_async_context(
                open_store(self.config.store.url, self.clock, exclusive=True)
            )
            retention = Retention(
                store,
                self.config.file.admin.audit_retention_days,
                self.config.store.notification_retention_days,
            )
            self.supervisor.add("retention", retention.run, retention.health)
            # Several instances on one PostgreSQL share people by partition; alone, owns all.
            self.leases = LeaseManager(store.db, self.config.file.cluster, self._health("leases"))
            self.supervisor.add("leases", self.leases.run, self.leases.health)
            await self.directory.restore(store, sources=self.config.connectors.keys())
            self.link = MeteredLink(self.config.xmpp, self._health("xmpp"), self.metrics)
            overlays = MeteredOverlays(self.link, self.config.xmpp.domain, self.metrics, self.clock)
            self.dnd = DndBridge(
                self.link,
                self.directory,
                self.bus,
                store,
                {m.id: m.dnd_sync for m in self.config.file.municipalities},
                self.connectors,
                self.config.xmpp.domain,
                self._health("dnd"),
                self.clock,
                ownership=self.leases,
            )
            self.dnd.register()
            await self.dnd.restore()  # before the presence bridge restores phone states
            self.supervisor.add("dnd", self.dnd.run, self.dnd.health)
            self.presence = PresenceBridge(
                self.directory,
                self.bus,
                store,
                overlays,
                self.config.presence,
                self._health("presence"),
                ownership=self.leases,
                clock=self.clock,
                phone_dnd=self.dnd,
            )
            self.link.on_ready(self.metrics.timed_reconcile(self.presence.on_xmpp_ready))
            self.leases.on_gained(self.presence.on_partitions_gained)
            self.leases.on_lost(self.presence.on_partitions_lost)
            self.directory.on_change(self.presence.on_directory_changed)
            # Connectors follow the directory and this instance's partitions without a restart
            # (after the presence bridge, so it has reloaded gained people's stored calendars).
            served = self.served = Served(self.directory, self.leases)
            self.directory.on_change(lambda _change: served.notify())
            self.leases.on_gained(lambda _partitions: served.notify())
            self.leases.on_lost(lambda _partitions: served.notify())
            self.link.on_message(f"{{{OVERLAY_NS}}}dismissed", self._on_dismissed)
            self.supervisor.add("xmpp", self.link.run, self.link.health)
            self.supervisor.add("presence", self.presence.run, self.presence.health)
            self.missed_calls = MissedCallNotifier(
                self.directory, self.bus, store, self.link, self._health("missed-calls"), self.clock
            )
            self.link.on_ready(self.missed_calls.on_xmpp_ready)
            self.supervisor.add("missed-calls", self.missed_calls.run, self.missed_calls.health)
            if self.config.file.switchboard is not None:
                # Operators are not admins: the console is on the public listener, behind TLS.
                self.switchboard, console = build_switchboard(
                    self.config.file.switchboard, self.directory, self.presence, self.link,
                    self.connectors, store,
                    [(m.id, m.name) for m in self.config.file.municipalities],
                )  # fmt: skip
                self.web.mount("/switchboard", console, max_body_bytes=SWITCHBOARD_MAX_BODY)
                self.supervisor.add("switchboard", self.switchboard.run, self.switchboard.health)

            if self.config.file.rooms is not None:
                self.rooms = RoomsBridge(
                    self.config.file.rooms, LivePeople(self.directory), self.link, store,
                    self.config.xmpp.domain, self._health("rooms"), self.connectors,
                    base_dir=self.config.path.parent,
                    duty_held=lambda: self.leases is not None and self.leases.holds("rooms"),
                    clock=self.clock,
                )  # fmt: skip
                self.link.on_ready(self.rooms.on_xmpp_ready)
                rooms = self.rooms
                self.leases.on_gained(lambda _partitions: rooms.wake())  # a takeover: at once
                self.directory.on_change(lambda _change: rooms.wake())  # members may have changed
                self.web.mount("/rooms", self.rooms.feeds.app, max_body_bytes=1024)  # GETs
                self.supervisor.add("rooms", self.rooms.run, self.rooms.health)
            self.supervisor.add("http", self.web.run, self.web.health)
            self.supervisor.add("directory", self.directory.run, self.directory.health)
            if self.config.file.assistant.enabled:
                for name, run, health in build_assistant(
                    self.config,
                    self.link,
                    self.directory,
                    self.presence,
                    self.connectors,
                    self.bus,
                    store,
                    self.clock,
                    RoomsForChat(self.rooms) if self.rooms is not None else None,
                ):
                    self.supervisor.add(name, run, health)

            types = self._connector_types or discover_connectors()
            for name, connector_config in self.config.connectors.items():
                health = self._health(f"connector:{name}")
                ctx = ConnectorContext(
                    name, self.directory, self.bus, health, store, self.web, self.clock, served
                )
                connector = types[connector_config.type](connector_config, ctx)
                self.connectors[name] = connector
                self.supervisor.add(f"connector:{name}", connector.run, health)

            self.admin = await mount_admin(self, store)
            await self.supervisor.start()
            stack.push_async_callback(self.supervisor.stop)
            log.info(
                "samtek running",
                people=len(self.directory.people()),
                connectors=len(self.config.connectors),
            )
            if ready is not None:
                ready.set()
            await asyncio.Event().wait()

    def _health(self, name: str) -> HealthReporter:
        return HealthReporter(name, self.clock)

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
