"""Asterisk ARI connector: call/device state from ARI events, click-to-call, DND via AstDB."""

from connectors.ari.config import AriConfig
from connectors.ari.connector import AriConnector

__all__ = ["AriConfig", "AriConnector"]
