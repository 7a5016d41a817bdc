"""SAMTEK: unified-communications middleware for XMPP, calendars and phones."""

__version__ = "0.1.0"
