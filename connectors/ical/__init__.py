"""iCalendar feeds (http/https URLs or local files), one per person."""

from connectors.ical.connector import IcalConfig, IcalConnector

__all__ = ["IcalConfig", "IcalConnector"]
