"""Graph change notifications: the real connector (MSAL + aiohttp) subscribes at the Graph
fake, which validates SAMTEK's public listener and POSTs notifications to it over HTTP.

Delta polling runs at a long interval here unless a test says otherwise, so a change that
arrives was carried by a notification.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from connectors.graph import GraphConnector
from connectors.graph.connector import NOTIFICATIONS_ITEM
from connectors.graph.notifications import NotificationEndpoint
from samtek.bus import Bus, Subscription
from samtek.clock import ShiftedClock
from samtek.events import CalendarUpdate
from samtek.health import HealthReporter, HealthState
from samtek.plugin import ConnectorContext
from samtek.store import Store
from samtek.web import HttpSection, WebServer
from tests.exchange.conftest import StaticDirectory, person, running, wait_for
from tests.exchange.test_graph import ALICE, NAME, config, now, subjects
from tests.fakes.graph.notify import DeliveryFault
from tests.fakes.graph.server import FakeGraph, GraphFault

STATE = "a-client-state-of-32-characters!"
PATH = f"/graph/{NAME}/notifications"
SLOW = {"poll_interval_seconds": 3600.0, "safety_poll_minutes": 600.0}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Setup:
    def __init__(self, conn: GraphConnector, web: WebServer, url: str) -> None:
        self.conn, self.web, self.url = conn, web, url
        self.updates: Subscription[CalendarUpdate] = conn.ctx.bus.subscribe(CalendarUpdate)


@contextlib.asynccontextmanager
async def notified(
    graph: FakeGraph,
    store: Store,
    names: tuple[str, ...] = ("alice", "bob"),
    url: str | None = None,
    port: int | None = None,
    **overrides: Any,
) -> AsyncIterator[Setup]:
    """The connector with a public listener on loopback, running."""
    port = port or free_port()
    web = WebServer(HttpSection(port=port, admin_port=0), HealthReporter("http"))
    target = url or f"http://127.0.0.1:{port}{PATH}"
    values = {"notification_url": target, "client_state": SecretStr(STATE), **SLOW, **overrides}
    people = [person(n, NAME) for n in names]
    ctx = ConnectorContext(
        NAME, StaticDirectory(people), Bus(), HealthReporter(NAME), store, web=web
    )
    conn = GraphConnector(config(graph, **values), ctx)
    server = asyncio.create_task(web.run())
    await web.wait_started()
    setup = Setup(conn, web, f"http://127.0.0.1:{port}{PATH}")
    try:
        async with running(conn):
            yield setup
    finally:
        server.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await server


async def settled(
    graph: FakeGraph, setup: Setup, names: tuple[str, ...] = ("alice", "bob")
) -> None:
    """Every mailbox read once and subscribed."""
    seen: set[str] = set()
    while seen != set(names):
        seen.add((await wait_for(setup.updates, lambda u: True)).person_id)
    async with asyncio.timeout(15):
        while any(not graph.notifier.of(f"{n}@kommune.no") for n in names):
            await asyncio.sleep(0.02)


def has(subject: str) -> Callable[[CalendarUpdate], bool]:
    return lambda u: subject in subjects(u)


async def test_a_meeting_arrives_through_a_notification(graph: FakeGraph, store: Store) -> None:
    t0 = now() + timedelta(hours=1)
    async with notified(graph, store) as setup:
        await settled(graph, setup)
        deltas = graph.count("delta")
        graph.state.add_event(ALICE, "Varslet", t0, t0 + timedelta(hours=1))
        update = await wait_for(setup.updates, has("Varslet"))
        assert update.person_id == "alice"
        assert graph.count("delta") == deltas + 1  # one delta round, for Alice only
    [sub] = graph.notifier.of(ALICE)
    assert sub.resource == "/users/alice%40kommune.no/events"
    assert sub.change_types == {"created", "updated", "deleted"}
    assert sub.notification_url == sub.lifecycle_url == setup.url
    assert sub.client_state == STATE
    # Graph's limit for events: at most 4,230 minutes ahead.
    assert sub.expires - datetime.now(UTC) <= timedelta(minutes=4230)
    assert sub.expires - datetime.now(UTC) > timedelta(minutes=4200)
    # Both URLs were validated for each mailbox, and answered with the token.
    assert graph.notifier.validations == [(setup.url, 200)] * 4
    assert setup.conn.endpoint is not None and setup.conn.endpoint.validations == 4


async def test_forged_and_malformed_posts_do_nothing(graph: FakeGraph, store: Store) -> None:
    async with notified(graph, store) as setup, aiohttp.ClientSession() as http:
        await settled(graph, setup)
        [sub] = graph.notifier.of(ALICE)
        deltas = graph.count("delta")
        forged = {
            "value": [{"subscriptionId": sub.id, "clientState": "x" * 32, "changeType": "created"}]
        }
        async with http.post(setup.url, json=forged) as resp:
            assert resp.status == 401
        async with http.post(
            setup.url, data=b"{not json", headers={"Content-Type": "application/json"}
        ) as resp:
            assert resp.status == 400
        async with http.post(setup.url, json={"value": "x"}) as resp:
            assert resp.status == 400
        big = b"x" * (setup.conn.cfg.notification_max_body_bytes + 1)
        async with http.post(setup.url, data=big) as resp:
            assert resp.status == 413
        # A valid state for a subscription we do not know: accepted, no work.
        stranger = {
            "value": [{"subscriptionId": "nope", "clientState": STATE, "changeType": "created"}]
        }
        async with http.post(setup.url, json=stranger) as resp:
            assert resp.status == 202
        async with http.post(setup.url, params={"validationToken": "<script>x</script>"}) as resp:
            assert (resp.status, await resp.text()) == (200, "<script>x</script>")
            assert resp.content_type == "text/plain"
            assert resp.headers["X-Content-Type-Options"] == "nosniff"
        async with http.post(setup.url, params={"validationToken": "t" * 5000}) as resp:
            assert resp.status == 400
        # The notification queue is drained by workers: give a forged one time to do harm.
        await asyncio.sleep(0.3)
        assert graph.count("delta") == deltas
        assert setup.conn.endpoint is not None and setup.conn.endpoint.rejected == 1


async def test_duplicated_reordered_and_delayed_notifications(
    graph: FakeGraph, store: Store
) -> None:
    t0 = now() + timedelta(hours=1)
    async with notified(graph, store) as setup:
        await settled(graph, setup)
        graph.notifier.faults.extend(
            [
                DeliveryFault("reorder"),
                DeliveryFault("duplicate"),
                DeliveryFault("delay", delay=0.3),
            ]
        )
        for i in range(3):  # one at a time: each delivery meets its own fault
            graph.state.add_event(
                ALICE, f"M{i}", t0 + timedelta(hours=i), t0 + timedelta(hours=i, minutes=30)
            )
            async with asyncio.timeout(10):
                while len(graph.notifier.faults) > 2 - i:
                    await asyncio.sleep(0.01)
        update = await wait_for(setup.updates, lambda u: len(u.events) == 3)
        assert subjects(update) == ["M0", "M1", "M2"]
    assert len(graph.notifier.delivered) >= 3  # M1 twice, then the held-back M0


async def test_missed_lifecycle_notification_repairs_by_delta(
    graph: FakeGraph, store: Store
) -> None:
    t0 = now() + timedelta(hours=1)
    async with notified(graph, store) as setup:
        await settled(graph, setup)
        graph.notifier.faults.append(DeliveryFault("drop"))
        graph.state.add_event(ALICE, "Tapt", t0, t0 + timedelta(hours=1))
        async with asyncio.timeout(10):
            while not graph.notifier.dropped:
                await asyncio.sleep(0.02)
        [sub] = graph.notifier.of(ALICE)
        graph.notifier.lifecycle(sub, "missed")  # what Graph says after throttling us
        update = await wait_for(setup.updates, has("Tapt"))
        assert update.person_id == "alice"


async def test_removed_subscription_is_recreated_and_gap_read(
    graph: FakeGraph, store: Store
) -> None:
    t0 = now() + timedelta(hours=1)
    async with notified(graph, store) as setup:
        await settled(graph, setup)
        [old] = graph.notifier.of(ALICE)
        graph.notifier.remove(ALICE, lifecycle=True)
        graph.state.add_event(ALICE, "I hullet", t0, t0 + timedelta(hours=1))  # nobody notifies
        await wait_for(setup.updates, has("I hullet"))
        async with asyncio.timeout(10):
            while not graph.notifier.of(ALICE):
                await asyncio.sleep(0.02)
        [new] = graph.notifier.of(ALICE)
        assert new.id != old.id
        graph.state.add_event(ALICE, "Etterpå", t0 + timedelta(hours=2), t0 + timedelta(hours=3))
        await wait_for(setup.updates, has("Etterpå"))


async def test_reauthorization_renews(graph: FakeGraph, store: Store) -> None:
    async with notified(graph, store) as setup:
        await settled(graph, setup)
        [sub] = graph.notifier.of(ALICE)
        graph.notifier.lifecycle(sub, "reauthorizationRequired")
        async with asyncio.timeout(10):
            while graph.count("renewSubscription") < 1:
                await asyncio.sleep(0.02)
        assert graph.notifier.of(ALICE) == [sub]


async def test_renewed_before_expiry_and_recreated_when_lost(
    graph: FakeGraph, store: Store
) -> None:
    # Ticks every 0.1 s (renewal checks); delta polls only as the 10 h safety net.
    async with notified(graph, store, poll_interval_seconds=0.1) as setup:
        await settled(graph, setup)
        [alice] = graph.notifier.of(ALICE)
        first_expiry = alice.expires
        graph.notifier.remove("bob@kommune.no", lifecycle=False)  # lost without a word
        # Both sides jump to 11 hours before expiry: inside renew_before_minutes (12 h).
        jump = ShiftedClock(alice.expires - timedelta(hours=11))
        setup.conn.clock = jump
        graph.notifier.clock = jump
        async with asyncio.timeout(15):
            while graph.count("renewSubscription") < 1 or not graph.notifier.of("bob@kommune.no"):
                await asyncio.sleep(0.02)
        assert graph.notifier.of(ALICE)[0].expires > first_expiry  # renewed, same id
        assert graph.notifier.of(ALICE)[0].id == alice.id
        assert graph.count("renewSubscription", 404) == 1  # Bob's was gone: a new one
        assert graph.count("createSubscription", 201) == 3
        graph.state.add_event("bob@kommune.no", "Ny", jump.now(), jump.now() + timedelta(hours=1))
        await wait_for(setup.updates, has("Ny"))


async def test_unreachable_endpoint_falls_back_to_polling(graph: FakeGraph, store: Store) -> None:
    t0 = now() + timedelta(hours=1)
    closed = f"http://127.0.0.1:{free_port()}{PATH}"  # nobody listens there
    async with notified(
        graph, store, url=closed, poll_interval_seconds=0.05, safety_poll_minutes=600
    ) as setup:
        await wait_for(setup.updates, lambda u: u.person_id == "alice")
        graph.state.add_event(ALICE, "Pollet", t0, t0 + timedelta(hours=1))
        await wait_for(setup.updates, has("Pollet"))
        health = setup.conn.ctx.health.snapshot()
    assert health.state is HealthState.DEGRADED
    message = health.item_errors[NOTIFICATIONS_ITEM]
    assert "could not validate the notification URL" in message and closed in message
    assert "polled every 0.05 s" in message
    # One failed attempt stops the others until resubscribe_minutes have passed.
    assert graph.count("createSubscription", 400) <= setup.conn.cfg.max_concurrency
    assert graph.notifier.subscriptions == {}


async def test_refused_subscription_costs_only_notifications(
    graph: FakeGraph, store: Store
) -> None:
    t0 = now() + timedelta(hours=1)
    graph.inject(GraphFault("missing", "createSubscription", count=2))
    overrides = {"poll_interval_seconds": 0.05, "resubscribe_minutes": 0.01}
    async with notified(graph, store, names=("alice",), **overrides) as setup:
        await wait_for(setup.updates, lambda u: u.person_id == "alice")  # read all the same
        graph.state.add_event(ALICE, "Pollet", t0, t0 + timedelta(hours=1))
        await wait_for(setup.updates, has("Pollet"))
        async with asyncio.timeout(10):  # tried again after resubscribe_minutes
            while not graph.notifier.of(ALICE):
                await asyncio.sleep(0.02)
    assert graph.count("createSubscription", 404) == 2
    assert graph.count("createSubscription", 201) == 1


async def test_throttled_subscription_is_retried(graph: FakeGraph, store: Store) -> None:
    graph.inject(GraphFault("throttle", "createSubscription", retry_after=1))
    async with notified(graph, store, names=("alice",)) as setup:
        await settled(graph, setup, ("alice",))
    assert graph.count("createSubscription", 429) == 1
    assert graph.count("createSubscription", 201) == 1


async def test_restart_renews_the_stored_subscription(graph: FakeGraph, store: Store) -> None:
    port = free_port()  # the same public URL after the restart
    async with notified(graph, store, names=("alice",), port=port) as setup:
        await settled(graph, setup, ("alice",))
        [first] = graph.notifier.of(ALICE)
    async with notified(graph, store, names=("alice",), port=port) as setup:
        await wait_for(setup.updates, lambda u: u.person_id == "alice")
        async with asyncio.timeout(10):
            while graph.count("renewSubscription") < 1:
                await asyncio.sleep(0.02)
        t0 = now() + timedelta(hours=1)
        graph.state.add_event(ALICE, "Etter omstart", t0, t0 + timedelta(hours=1))
        await wait_for(setup.updates, has("Etter omstart"))
    assert [s.id for s in graph.notifier.of(ALICE)] == [first.id]
    assert graph.count("createSubscription", 201) == 1


def test_config_requires_client_state_and_https(graph: FakeGraph) -> None:
    with pytest.raises(ValueError, match="needs client_state"):
        config(graph, notification_url="https://samtek.kommune.no/graph/m365/notifications")
    with pytest.raises(ValueError, match="HTTPS only"):
        config(graph, notification_url="http://samtek.kommune.no/n", client_state=SecretStr(STATE))
    with pytest.raises(ValueError, match="16 to 128"):
        config(
            graph, notification_url="https://samtek.kommune.no/n", client_state=SecretStr("short")
        )
    with pytest.raises(ValueError, match="only used together"):
        config(graph, client_state=SecretStr(STATE))
    with pytest.raises(ValueError, match="less than or equal to 4230"):
        config(
            graph,
            notification_url="https://s.test/n",
            client_state=SecretStr(STATE),
            subscription_minutes=5000,
        )
    ok = config(graph, notification_url="https://s.test/n", client_state=SecretStr(STATE))
    assert ok.subscription_minutes == 4230


async def test_changed_url_replaces_the_stored_subscription(graph: FakeGraph, store: Store) -> None:
    async with notified(graph, store, names=("alice",)) as setup:
        await settled(graph, setup, ("alice",))
        [first] = graph.notifier.of(ALICE)
    async with notified(graph, store, names=("alice",)) as setup:  # another port: another URL
        await settled(graph, setup, ("alice",))
        [second] = graph.notifier.of(ALICE)
    assert second.id != first.id and second.notification_url == setup.url
    assert graph.count("deleteSubscription", 204) == 1  # the old one does not linger


async def test_full_queue_asks_graph_to_redeliver() -> None:
    endpoint = NotificationEndpoint("m365", STATE)
    endpoint.subscriptions.update({"s1": ALICE, "s2": "bob@kommune.no"})
    batch = {
        "value": [
            {"subscriptionId": s, "clientState": STATE, "changeType": "updated"}
            for s in ("s1", "s1", "s2")
        ]
    }
    async with TestClient(TestServer(endpoint.app)) as client:
        resp = await client.post("/notifications", json=batch)
        assert resp.status == 503  # not running: Graph delivers again later
        queue = endpoint.open(capacity=1)
        resp = await client.post("/notifications", json=batch)
        assert resp.status == 503  # Alice's round fits (once), Bob's does not
        assert queue.qsize() == 1 and queue.get_nowait() == ("delta", ALICE)
        endpoint.taken(("delta", ALICE))
        resp = await client.post("/notifications", json={"value": batch["value"][:2]})
        assert resp.status == 202 and queue.qsize() == 1
