"""Asterisk channel events -> call transitions per extension (pure, no I/O).

A phone's channel is named <tech>/<extension>-<seq>. A channel created in state "Ring" is the
phone dialling out; one created "Down" and then "Ringing" is a call to the phone. "Up" is
answered; ChannelDestroyed ends it: missed if a call to the phone was never answered.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from samtek.telephony import CallDirection, CallState, DeviceState

_OUTGOING_STATES = {"Ring", "OffHook", "Dialing", "Dialing Offhook"}
_RINGING_STATES = {"Ring", "Ringing"}

# ARI DeviceState values (Devicestates REST API / DEVICE_STATE()).
DEVICE_STATES: dict[str, DeviceState] = {
    "NOT_INUSE": DeviceState.IDLE,
    "INUSE": DeviceState.IN_USE,
    "BUSY": DeviceState.IN_USE,
    "ONHOLD": DeviceState.IN_USE,
    "RINGINUSE": DeviceState.IN_USE,
    "RINGING": DeviceState.RINGING,
    "UNAVAILABLE": DeviceState.UNAVAILABLE,
    "INVALID": DeviceState.UNAVAILABLE,
    "UNKNOWN": DeviceState.UNAVAILABLE,
}


@dataclass
class Leg:
    channel_id: str
    extension: str
    direction: CallDirection
    remote_number: str = ""
    remote_name: str | None = None
    ringing: bool = False
    answered: bool = False


@dataclass(frozen=True)
class Change:
    leg: Leg
    state: CallState


class ChannelTracker:
    def __init__(self, technology: str) -> None:
        self.technology = technology
        self.extensions: set[str] = set()
        self.legs: dict[str, Leg] = {}
        # Late events (ChannelVarset after hangup) must not resurrect a finished channel.
        self._finished: deque[str] = deque(maxlen=1000)

    def extension_of(self, device_or_channel: str) -> str | None:
        tech, _, rest = device_or_channel.partition("/")
        if tech.lower() != self.technology.lower() or not rest:
            return None
        resource = rest.rsplit("-", 1)[0] if "-" in rest else rest
        return resource if resource in self.extensions else None

    def update(self, channel: dict[str, Any]) -> list[Change]:
        channel_id = str(channel.get("id", ""))
        state = str(channel.get("state", ""))
        leg = self.legs.get(channel_id)
        if leg is None:
            if channel_id in self._finished:
                return []
            ext = self.extension_of(str(channel.get("name", "")))
            if ext is None:
                return []
            direction = CallDirection.OUT if state in _OUTGOING_STATES else CallDirection.IN
            leg = self.legs[channel_id] = Leg(channel_id, ext, direction)
        _remote(leg, channel)
        changes = []
        if state in _RINGING_STATES and not leg.ringing and not leg.answered:
            leg.ringing = True
            changes.append(Change(leg, CallState.RINGING))
        if state == "Up" and not leg.answered:
            leg.answered = True
            changes.append(Change(leg, CallState.ANSWERED))
        return changes

    def destroy(self, channel: dict[str, Any]) -> list[Change]:
        self.update(channel)  # a channel seen only at its end still counts
        leg = self.legs.pop(str(channel.get("id", "")), None)
        return [self._end(leg)] if leg is not None else []

    def forget_missing(self, alive: set[str]) -> list[Change]:
        """End the legs whose ChannelDestroyed we missed while disconnected.

        An answered call ended (hung up). An unanswered call to the phone may have been
        answered and ended while we were away: reporting it missed could be wrong, so it is
        dropped without a report (as the SIP connector does for dialogs seen only ended).
        """
        changes = []
        for cid in [cid for cid in self.legs if cid not in alive]:
            change = self._end(self.legs.pop(cid))
            if change.state is not CallState.MISSED:
                changes.append(change)
        return changes

    def _end(self, leg: Leg) -> Change:
        self._finished.append(leg.channel_id)
        if leg.answered or leg.direction is CallDirection.OUT:
            return Change(leg, CallState.HUNG_UP)
        return Change(leg, CallState.MISSED)


def _remote(leg: Leg, channel: dict[str, Any]) -> None:
    """The other party: connected line (or caller id, or the dialled extension)."""
    parties = [channel.get("connected") or {}, channel.get("caller") or {}]
    for party in parties:
        number = str(party.get("number") or "")
        if number and number != leg.extension:
            leg.remote_number = number
            leg.remote_name = str(party.get("name") or "") or None
            return
    if leg.direction is CallDirection.OUT and not leg.remote_number:
        exten = str((channel.get("dialplan") or {}).get("exten") or "")
        if exten and exten not in ("s", leg.extension):
            leg.remote_number = exten
