"""SAMTEK's knowledge into Teams: a call on the municipal phone (a DeviceStateUpdate from a
PBX connector) becomes the app's presence session in the Graph fake, kept alive, cleared
after hang-up, never above the user's own Teams status, and never read back as a claim."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.graph import GraphConnector
from samtek.bus import Subscription
from samtek.clock import ShiftedClock
from samtek.events import PresenceClaimsUpdate
from samtek.store import Store
from samtek.telephony import DeviceState, DeviceStateUpdate
from tests.exchange.conftest import context, person, running
from tests.exchange.test_graph import ALICE, NAME, config
from tests.fakes.graph.presence import user_id
from tests.fakes.graph.server import FakeGraph

WRITE = {
    "teams_presence": True,
    "teams_write": True,
    "teams_write_people": ("alice",),
    "presence_poll_seconds": 0.05,
    "poll_interval_seconds": 3600,
}
BOB = "bob@kommune.no"


def connector(graph: FakeGraph, store: Store, **extra: Any) -> GraphConnector:
    people = [
        replace(person("alice", NAME), phones=("10 01",)),
        replace(person("bob", NAME), phones=("1002",)),
    ]
    return GraphConnector(config(graph, **{**WRITE, **extra}), context(NAME, people, store))


async def phone(conn: GraphConnector, extension: str, state: DeviceState) -> None:
    at = datetime.now(UTC)
    await conn.ctx.bus.publish(DeviceStateUpdate("pbx", extension, state, at))


async def until(check: Any) -> None:
    async with asyncio.timeout(10):
        while not check():
            await asyncio.sleep(0.02)


async def rounds(conn: GraphConnector, count: int) -> None:
    assert conn.teams is not None
    target = conn.teams.rounds + count
    await until(lambda: conn.teams is not None and conn.teams.rounds >= target)


def claims_for(sub: Subscription[PresenceClaimsUpdate], person_id: str) -> list[Any]:
    found = []
    while not sub.queue.empty():
        update = sub.queue.get_nowait()
        if update.person_id == person_id:
            found.extend(update.claims)
    return found


async def test_pbx_call_is_written_cleared_and_not_read_back(
    graph: FakeGraph, store: Store
) -> None:
    graph.presence.set_client(ALICE, "Available", "Available")
    conn = connector(graph, store)
    claims = conn.ctx.bus.subscribe(PresenceClaimsUpdate)
    async with running(conn):
        await rounds(conn, 1)
        await phone(conn, "1001", DeviceState.IN_USE)
        await phone(conn, "1002", DeviceState.IN_USE)  # Bob did not opt in
        await until(lambda: graph.presence.app_session(ALICE) is not None)
        session = graph.presence.app_session(ALICE)
        assert session is not None and (session.availability, session.activity) == (
            "Busy",
            "InACall",
        )
        assert graph.presence.of(ALICE)["activity"] == "InACall"  # Busy beats Available
        assert session.expires is not None
        assert session.expires - datetime.now(UTC) <= timedelta(minutes=15)
        await rounds(conn, 3)  # Teams shows InACall: SAMTEK's own, so no Teams claim
        assert claims_for(claims, "alice") == []

        await phone(conn, "1001", DeviceState.IDLE)
        await until(lambda: graph.presence.app_session(ALICE) is None)
        await rounds(conn, 3)
        assert claims_for(claims, "alice") == []
        assert graph.presence.of(ALICE)["activity"] == "Available"
    assert graph.count("setPresence") == 1 and graph.count("clearPresence") == 1
    assert graph.presence.app_session(BOB) is None
    set_call = next(r for r in graph.log if r.operation == "setPresence")
    assert set_call.mailboxes == (user_id(ALICE),)


async def test_session_kept_alive_and_user_status_wins(graph: FakeGraph, store: Store) -> None:
    alice = graph.presence.user(ALICE)
    graph.presence.set_preferred(
        alice, {"availability": "DoNotDisturb", "activity": "DoNotDisturb"}
    )
    conn = connector(graph, store)
    async with running(conn):
        await rounds(conn, 1)
        await phone(conn, "1001", DeviceState.IN_USE)
        await until(lambda: graph.count("setPresence") == 1)
        # The user's own Teams status stays what Teams shows (user > app sessions).
        assert graph.presence.of(ALICE)["availability"] == "DoNotDisturb"
        # 11 minutes later (two thirds of the 15-minute session): refreshed before it expires.
        conn.clock = ShiftedClock(datetime.now(UTC) + timedelta(minutes=11))
        await until(lambda: graph.count("setPresence") == 2)
    assert graph.count("setUserPreferredPresence") == 0  # never touches the user's own state


def test_write_needs_people(graph: FakeGraph) -> None:
    with pytest.raises(ValueError, match="teams_write_people"):
        config(graph, teams_write=True)
    with pytest.raises(ValueError, match="greater than or equal to 5"):
        config(graph, teams_write=True, teams_write_people=("*",), teams_session_minutes=1)
