"""Fixtures for several SAMTEK instances: the suite's real PostgreSQL."""

from tests.postgres_fixture import postgres_server, postgres_url

__all__ = ["postgres_server", "postgres_url"]
