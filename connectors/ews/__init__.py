"""Exchange Web Services (on-premises Exchange) calendar connector."""

from connectors.ews.config import EwsConfig
from connectors.ews.connector import EwsConnector

__all__ = ["EwsConfig", "EwsConnector"]
