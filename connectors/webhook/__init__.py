"""Webhook connector: signed JSON callbacks from cloud PBXs -> CallEvent/DeviceStateUpdate."""

from connectors.webhook.config import WebhookConfig
from connectors.webhook.connector import WebhookConnector

__all__ = ["WebhookConfig", "WebhookConnector"]
