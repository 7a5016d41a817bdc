"""Durable state: what SAMTEK needs to recover after a restart.

`open_store(url)` picks the backend from the URL (sqlite:///path or postgresql://…),
runs the migrations and yields a `Store`. The Store's methods are the only SQL in the code base.
"""

from samtek.store.database import Database, open_database
from samtek.store.store import Store, open_store

__all__ = ["Database", "Store", "open_database", "open_store"]
