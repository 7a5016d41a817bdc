"""Microsoft Graph (Microsoft 365) calendar connector."""

from connectors.graph.config import GraphConfig
from connectors.graph.connector import GraphConnector

__all__ = ["GraphConfig", "GraphConnector"]
