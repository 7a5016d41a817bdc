"""Telephony bridges: missed-call chat messages (phone presence lives in bridges.presence)."""

from bridges.telephony.missed import MissedCallNotifier

__all__ = ["MissedCallNotifier"]
