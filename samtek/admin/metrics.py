"""Prometheus metrics at /metrics, from one registry per Service (no global default registry).

Most figures are read live at scrape time from what the service already keeps (health,
bus queues, connectors' last sync); the XMPP-side counters come from thin subclasses of the
link and the overlay client that the composition root builds instead of the plain ones.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Iterator, Mapping

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from slixmpp.stanza import Iq

from samtek.bus import Bus
from samtek.clock import SYSTEM_CLOCK, Clock
from samtek.config import XmppSection
from samtek.directory import DirectoryService
from samtek.health import HealthReporter, HealthState
from samtek.runtime.leases import LeaseManager
from samtek.runtime.supervisor import Supervisor
from samtek.xmpp.delivery import MessageType
from samtek.xmpp.link import IqType, XmppLink
from samtek.xmpp.overlay import Overlay, PresenceOverlays, ServerOverlays


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.stanzas_sent = Counter(
            "samtek_stanzas_sent",
            "Stanzas sent to the XMPP server",
            ["kind"],
            registry=self.registry,
        )
        self.overlays_sent = Counter(
            "samtek_overlays_sent",
            "Overlay requests sent, by operation and outcome",
            ["operation", "outcome"],
            registry=self.registry,
        )
        self.transitions = Counter(
            "samtek_presence_transitions",
            "Presence overlays applied, by resulting show",
            ["show"],
            registry=self.registry,
        )
        self.reconcile_seconds = Histogram(
            "samtek_reconcile_seconds",
            "Duration of the reconcile after an XMPP (re)connect",
            registry=self.registry,
            buckets=(0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60),
        )

    def watch(
        self,
        supervisor: Supervisor,
        bus: Bus,
        directory: DirectoryService,
        connectors: Mapping[str, object],
        leases: LeaseManager | None = None,
    ) -> None:
        self.registry.register(_LiveCollector(supervisor, bus, directory, connectors, leases))

    def timed_reconcile(self, hook: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        async def timed() -> None:
            with self.reconcile_seconds.time():
                await hook()

        return timed

    async def handler(self, request: web.Request) -> web.Response:
        body = generate_latest(self.registry)
        response = web.Response(body=body)
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    def routes(self) -> web.RouteTableDef:
        routes = web.RouteTableDef()
        routes.get("/metrics")(self.handler)
        return routes


class MeteredLink(XmppLink):
    """The XMPP link, counting the stanzas it sends."""

    def __init__(self, settings: XmppSection, health: HealthReporter, metrics: ServiceMetrics):
        super().__init__(settings, health)
        self.metrics = metrics

    async def send_iq(self, to: str, kind: IqType, payload: ET.Element) -> Iq:
        self.metrics.stanzas_sent.labels("iq").inc()
        return await super().send_iq(to, kind, payload)

    def send_message(
        self, to: str, body: str, mfrom: str | None = None, mtype: MessageType = "chat"
    ) -> None:
        super().send_message(to, body, mfrom, mtype)
        self.metrics.stanzas_sent.labels("message").inc()


class MeteredOverlays(PresenceOverlays):
    """The overlay client, counting what it sends and the transitions applied."""

    def __init__(
        self, link: XmppLink, domain: str, metrics: ServiceMetrics, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        super().__init__(link, domain, clock)
        self._metrics = metrics

    async def set(self, jid: str, overlay: Overlay) -> bool:
        with _outcome(self._metrics, "set"):
            applied = await super().set(jid, overlay)
        if applied:
            self._metrics.transitions.labels(overlay.show.value).inc()
        return applied

    async def clear(self, jid: str) -> None:
        with _outcome(self._metrics, "clear"):
            await super().clear(jid)
        self._metrics.transitions.labels("cleared").inc()

    async def list(self) -> ServerOverlays:
        with _outcome(self._metrics, "list"):
            return await super().list()


class _outcome:  # lower case: reads like a function in `with`
    def __init__(self, metrics: ServiceMetrics, operation: str) -> None:
        self._metrics, self._operation = metrics, operation

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        outcome = "ok" if kind is None else "error"
        self._metrics.overlays_sent.labels(self._operation, outcome).inc()


def _gauge(name: str, doc: str, *labels: str) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=list(labels))


def _counter(name: str, doc: str, *labels: str) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, labels=list(labels))


class _LiveCollector(Collector):
    def __init__(
        self,
        supervisor: Supervisor,
        bus: Bus,
        directory: DirectoryService,
        connectors: Mapping[str, object],
        leases: LeaseManager | None,
    ) -> None:
        self._supervisor, self._bus = supervisor, bus
        self._directory, self._connectors = directory, connectors
        self._leases = leases

    def collect(self) -> Iterator[Metric]:
        started = time.monotonic()
        state = _gauge("samtek_part_state", "1 for each part's state", "part", "state")
        restarts = _counter("samtek_part_restarts", "Restarts after failures", "part")
        items = _gauge("samtek_part_item_errors", "Items currently failing", "part")
        for name, health in sorted(self._supervisor.health().items()):
            snapshot = health.snapshot()
            for value in HealthState:
                state.add_metric([name, value.value], 1.0 if snapshot.state is value else 0.0)
            restarts.add_metric([name], snapshot.restarts)
            items.add_metric([name], len(snapshot.item_errors))
        yield from (state, restarts, items)

        sync = _gauge("samtek_connector_last_sync_seconds", "Last sync's duration", "connector")
        syncs = _counter("samtek_connector_syncs", "Completed syncs", "connector")
        for name, connector in sorted(self._connectors.items()):
            seconds = getattr(connector, "last_sync_seconds", None)
            if isinstance(seconds, float):
                sync.add_metric([name], seconds)
            count = getattr(connector, "syncs", None)
            if isinstance(count, int):
                syncs.add_metric([name], count)
        yield from (sync, syncs)

        depth = _gauge("samtek_bus_queue_depth", "Events waiting per event type", "event")
        for event, queued in sorted(self._bus.depths().items()):
            depth.add_metric([event], queued)
        people = _gauge("samtek_people", "People served per directory source", "source")
        for source, count in sorted(self._directory.sources().items()):
            people.add_metric([source], count)
        if self._leases is not None:
            held = _gauge("samtek_lease_held", "1 while this instance holds the duty", "duty")
            for duty in self._leases.duties:
                held.add_metric([duty], 1.0 if self._leases.holds(duty) else 0.0)
            owned = _gauge("samtek_partitions_owned", "Person partitions this instance serves")
            owned.add_metric([], len(self._leases.owned()))
            total = _gauge("samtek_partitions", "Person partitions in the cluster")
            total.add_metric([], self._leases.partitions)
            yield from (held, owned, total)
        took = _gauge("samtek_scrape_collect_seconds", "Time to collect live metrics")
        took.add_metric([], time.monotonic() - started)
        yield from (depth, people, took)
