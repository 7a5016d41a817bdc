"""The telephony capability: call events, device state, click-to-call and transfer.

A PBX connector (SIP, Asterisk ARI, a webhook) publishes `CallEvent` and
`DeviceStateUpdate` on the bus; bridges turn them into XMPP presence and missed-call
messages. Extensions are the `phones` of `samtek.model.Person`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")


class CallDirection(StrEnum):
    IN = "in"  # the extension is called
    OUT = "out"  # the extension calls


class CallState(StrEnum):
    RINGING = "ringing"
    ANSWERED = "answered"
    HUNG_UP = "hung_up"  # ended after being answered, or an outgoing call given up
    MISSED = "missed"  # an incoming call that ended without being answered


@dataclass(frozen=True, slots=True)
class CallEvent:
    """One state change of one call as one extension sees it.

    `call_id` is stable across the states of that call (the SIP Call-ID where known), so a
    consumer can pair ringing with its answered/missed. Each transition is published once.
    """

    source: str
    call_id: str
    extension: str
    direction: CallDirection
    state: CallState
    remote_number: str
    remote_name: str | None
    at: datetime

    def __post_init__(self) -> None:
        _require_aware("at", self.at)


class DeviceState(StrEnum):
    IDLE = "idle"
    IN_USE = "in_use"
    RINGING = "ringing"
    UNAVAILABLE = "unavailable"
    DND = "dnd"


@dataclass(frozen=True, slots=True)
class DeviceStateUpdate:
    """The extension's device state changed (published on change only)."""

    source: str
    extension: str
    state: DeviceState
    at: datetime

    def __post_init__(self) -> None:
        _require_aware("at", self.at)


class TelephonyError(Exception):
    """A telephony request failed for a clear reason (shown to the user and admins)."""


class NotSupportedByPbx(TelephonyError):
    """The PBX offers no standard way to do this (e.g. DND on plain Kamailio)."""


@runtime_checkable
class Telephony(Protocol):
    async def originate(self, from_ext: str, to_ext: str) -> str:
        """Make `from_ext`'s phone ring; when answered, connect it to `to_ext`.

        Returns an id of the call (the SIP Call-ID of the leg to `from_ext`). Raises
        `TelephonyError` if the phone is not answered or the transfer is refused.
        """
        ...

    async def set_dnd(self, ext: str, on: bool) -> None:
        """Switch do-not-disturb for an extension; `NotSupportedByPbx` if impossible."""
        ...


@runtime_checkable
class CallTransfer(Protocol):
    """A PBX connector that can move a call the operator is in to someone else."""

    async def transfer(self, extension: str, target: str) -> str:
        """Blind transfer: the party `extension` is talking to is connected to `target`,
        and `extension` leaves the call.

        Acts on `extension`'s answered call (the latest, if several). Returns once the PBX
        accepted the transfer, with an id of the transferred call. Raises `TelephonyError`
        if `extension` is in no answered call or the PBX refuses, `NotSupportedByPbx` if the
        PBX offers no way to do it.
        """
        ...
