"""CalDAV calendars (Radicale, Nextcloud, SOGo, iCloud, ...): sync, free/busy, meetings."""

from connectors.caldav.config import CalDavConfig
from connectors.caldav.connector import CalDavConnector
from connectors.caldav.state import MemoryStateStore, StateStore

__all__ = ["CalDavConfig", "CalDavConnector", "MemoryStateStore", "StateStore"]
