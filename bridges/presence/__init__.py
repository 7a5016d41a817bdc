"""Calendar, out-of-office and phone claims -> the overlay a person's contacts see."""

from bridges.presence.bridge import PresenceBridge

__all__ = ["PresenceBridge"]
