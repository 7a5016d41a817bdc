"""TLS: verified by default, with a configurable CA bundle, or knowingly not verified."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from samtek.health import HealthState
from tests.caldav.conftest import (
    SERVICE_USER,
    USERS,
    make_config,
    person,
    run_connector,
    wait_until,
)
from tests.servers.radicale import RadicaleServer


@pytest.fixture
async def radicale_tls() -> AsyncIterator[RadicaleServer]:
    async with RadicaleServer.running(USERS, service_user=SERVICE_USER, tls=True) as server:
        yield server


async def test_self_signed_server_is_refused_unless_trusted(
    radicale_tls: RadicaleServer,
) -> None:
    cal = await radicale_tls.make_calendar("alice")
    alice = person("alice", cal)
    async with run_connector(make_config(radicale_tls), [alice]) as run:
        await wait_until(lambda: bool(run.ctx.health.snapshot().item_errors))
        health = run.ctx.health.snapshot()
    assert health.state is HealthState.DEGRADED
    assert any("certificate" in e.lower() for e in health.item_errors.values())

    trusted = make_config(radicale_tls, ca_file=str(radicale_tls.certificate))
    async with run_connector(trusted, [alice]) as run:
        assert (await run.next_update("alice")).events == ()

    unverified = make_config(radicale_tls, verify_tls=False)
    async with run_connector(unverified, [alice]) as run:
        assert (await run.next_update("alice")).events == ()
