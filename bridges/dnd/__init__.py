"""Do-not-disturb both ways between chat and phone (see bridge.py and deploy/telephony.md)."""

from bridges.dnd.bridge import DndBridge

__all__ = ["DndBridge"]
