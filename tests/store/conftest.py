"""Store tests run on both backends: SQLite in a temp file and the suite's real PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.postgres_fixture import postgres_server, postgres_url

__all__ = ["postgres_server", "postgres_url"]


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/state.db"
    return str(request.getfixturevalue("postgres_url"))
