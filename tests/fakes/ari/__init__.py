"""A fake Asterisk ARI server (aiohttp) speaking ARI's documented REST JSON and events."""

from tests.fakes.ari.server import FakeAri, FakeCall

__all__ = ["FakeAri", "FakeCall"]
