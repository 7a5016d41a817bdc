"""A real OpenLDAP seeded with the test region, and a directory service fed by the connector."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import structlog

from connectors.ldap import LdapConnector
from connectors.ldap.config import LdapConfig
from samtek.bus import Bus
from samtek.config import MunicipalitySection
from samtek.directory import DirectoryService
from samtek.health import HealthReporter
from samtek.plugin import ConnectorContext
from samtek.store import Store, open_store
from tests.directory.seed import GROUPS, PEOPLE, seed_ldif
from tests.servers.ldap import ADMIN_DN, SlapdServer

log = structlog.get_logger("tests.directory")

MUNICIPALITIES = [
    MunicipalitySection(id="kongsberg", name="Kongsberg kommune", calendar="ews", language="nb"),
    MunicipalitySection(id="notodden", name="Notodden kommune", language="nb"),
]


@pytest.fixture
async def slapd() -> AsyncIterator[SlapdServer]:
    server = SlapdServer()
    try:
        await server.start()
        await server.add(seed_ldif())
        yield server
    finally:
        await server.stop()
        server.cleanup()


def ldap_config(server: SlapdServer, password_file: Path, **overrides: object) -> LdapConfig:
    password_file.write_text("ldap-test-secret")
    settings: dict[str, object] = {
        "type": "ldap",
        "servers": [server.url],
        "bind_dn": ADMIN_DN,
        "password": f"file:{password_file}",
        "people_base": PEOPLE,
        "group_base": GROUPS,
        "jid_template": "{uid}@region.test",
        "municipalities": [
            {"id": "kongsberg", "base_dn": f"ou=kongsberg,{PEOPLE}"},
            {"id": "notodden", "base_dn": f"ou=notodden,{PEOPLE}"},
        ],
        "poll_interval": 0.2,
        "allow_plaintext_bind": True,  # the test slapd listens on loopback only
        **overrides,
    }
    return LdapConfig.model_validate(settings)


@dataclass
class Region:
    directory: DirectoryService
    connector: LdapConnector
    health: HealthReporter
    store: Store


@pytest.fixture
async def region_factory(
    tmp_path: Path,
) -> AsyncIterator[Callable[..., Awaitable[Region]]]:
    tasks: list[asyncio.Task[None]] = []
    async with contextlib.AsyncExitStack() as stack:

        async def start(server: SlapdServer, **overrides: object) -> Region:
            store = await stack.enter_async_context(
                open_store(f"sqlite:///{tmp_path}/state-{len(tasks)}.db")
            )
            bus = Bus()
            directory = DirectoryService({}, MUNICIPALITIES, bus)
            await directory.restore(store)
            health = HealthReporter("connector:ldap")
            config = ldap_config(server, tmp_path / "ldap.secret", **overrides)
            ctx = ConnectorContext("ldap", directory, bus, health, store)
            connector = LdapConnector(config, ctx)
            for part in (directory.run(), connector.run()):
                task = asyncio.create_task(part)
                task.add_done_callback(_report_crash)
                tasks.append(task)
            return Region(directory, connector, health, store)

        try:
            yield start
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


def _report_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("part crashed", task=task.get_name(), exc_info=task.exception())


async def eventually(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until `predicate()` holds (an upper bound, not a latency assertion)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not reached within the time limit")
        await asyncio.sleep(0.05)
