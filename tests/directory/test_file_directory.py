"""The CSV/TOML file directory: people and groups, re-read on change, bad rows reported."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from connectors.dirfile import FileDirectoryConnector
from connectors.dirfile.connector import FileDirectoryConfig
from samtek.bus import Bus
from samtek.directory import DirectoryService
from samtek.health import HealthReporter, HealthState
from samtek.plugin import ConnectorContext
from samtek.store import open_store
from tests.directory.conftest import MUNICIPALITIES, eventually

CSV = """id,jid,name,municipality,email,language,phones,groups
kari,,Kari Nordmann,kongsberg,kari@kongsberg.kommune.test,nn,+4732000001;1001,planning;drift
ola,ola@region.test,Ola Hansen,notodden,,,,planning
"""


@pytest.fixture
async def file_region(
    tmp_path: Path,
) -> AsyncIterator[tuple[Path, DirectoryService, HealthReporter]]:
    path = tmp_path / "people.csv"
    path.write_text(CSV)
    async with open_store(f"sqlite:///{tmp_path}/state.db") as store:
        bus = Bus()
        directory = DirectoryService({}, MUNICIPALITIES, bus)
        health = HealthReporter("connector:people-file")
        config = FileDirectoryConfig(
            type="directory_file", path=path, jid_template="{id}@region.test"
        )
        connector = FileDirectoryConnector(
            config, ConnectorContext("people-file", directory, bus, health, store)
        )
        tasks = [asyncio.create_task(directory.run()), asyncio.create_task(connector.run())]
        try:
            yield path, directory, health
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task


async def test_csv_people_and_groups(
    file_region: tuple[Path, DirectoryService, HealthReporter],
) -> None:
    path, directory, health = file_region
    await eventually(lambda: len(directory.people()) == 2)
    kari = directory.person("kari")
    assert kari is not None and kari.jid == "kari@region.test" and kari.language == "nn"
    assert kari.phones == ("+4732000001", "1001")
    ola = directory.person("ola")
    assert ola is not None and ola.language == "nb"  # the municipality's default
    assert directory.members("planning") == {"kari@region.test", "ola@region.test"}
    assert directory.members("drift") == {"kari@region.test"}

    # An edit is picked up; a bad row is an item error and the good rows stay served.
    path.write_text(CSV.replace("ola,ola@region.test,Ola Hansen,notodden", "ola,,Ola,nowhere")
                    + ",,No Id,kongsberg,,,,\n")  # fmt: skip
    await eventually(lambda: health.state is HealthState.DEGRADED)
    assert "line 4" in health.snapshot().item_errors
    await eventually(lambda: directory.person("ola") is None)  # unknown municipality
    assert directory.members("planning") == {"kari@region.test"}
    assert "people-file/ola" in directory.health.snapshot().item_errors

    path.write_text(CSV.split("ola,")[0])  # ola leaves the file: the error goes with her
    await eventually(lambda: "people-file/ola" not in directory.health.snapshot().item_errors)
    assert directory.health.state is HealthState.OK
