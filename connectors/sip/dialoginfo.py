"""RFC 4235 dialog-info: parse NOTIFY bodies and turn them into call transitions.

A PBX sends full-state documents that repeat terminated dialogs for a while (Kamailio keeps
them ~10 s), and partial ones; `DialogTracker` diffs per dialog id so each transition is
reported exactly once, and remembers finished dialog ids (bounded) so a repeated
"terminated" is not a second hang-up.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum

from connectors.sip.message import ascii_int, uri_user
from samtek.untrusted_xml import UntrustedXmlError, parse_untrusted

NS = "{urn:ietf:params:xml:ns:dialog-info}"
_FINISHED_MEMORY = 256  # finished dialog ids remembered per extension


class DialogInfoError(ValueError):
    """A NOTIFY body that is not usable dialog-info XML."""


class DialogState(StrEnum):
    TRYING = "trying"
    PROCEEDING = "proceeding"
    EARLY = "early"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"

    @property
    def active(self) -> bool:
        return self is not DialogState.TERMINATED


@dataclass(frozen=True, slots=True)
class Dialog:
    id: str
    call_id: str
    state: DialogState
    direction: str | None  # "initiator" | "recipient" | None (not given)
    remote_uri: str | None
    remote_display: str | None
    # As the watched phone sees the dialog (RFC 4235 §4.1.6); the PBX may leave them out.
    local_tag: str | None = None
    remote_tag: str | None = None


@dataclass(frozen=True, slots=True)
class DialogInfo:
    version: int
    full: bool
    entity: str
    dialogs: tuple[Dialog, ...]


def parse_dialog_info(body: bytes) -> DialogInfo | None:
    """The document, or None for an empty body (a NOTIFY without state yet)."""
    if not body.strip():
        return None
    try:
        root = parse_untrusted(body)
    except UntrustedXmlError as exc:
        raise DialogInfoError(f"dialog-info: {exc}") from None
    if root.tag != f"{NS}dialog-info":
        raise DialogInfoError(f"root element is {root.tag}, not dialog-info")
    version = ascii_int(root.get("version", "0"))
    if version is None:
        raise DialogInfoError(f"bad version {root.get('version', '')[:32]!r}")
    dialogs = tuple(_dialog(el) for el in root.findall(f"{NS}dialog"))
    return DialogInfo(version, root.get("state", "full") == "full", root.get("entity", ""), dialogs)


def _dialog(el: ET.Element) -> Dialog:
    dialog_id = el.get("id")
    if not dialog_id:
        raise DialogInfoError("dialog element without id")
    state_text = (el.findtext(f"{NS}state") or "").strip().lower()
    try:
        state = DialogState(state_text)
    except ValueError as exc:
        raise DialogInfoError(f"dialog {dialog_id}: unknown state {state_text!r}") from exc
    identity = el.find(f"{NS}remote/{NS}identity")
    remote_uri = identity.text.strip() if identity is not None and identity.text else None
    display = identity.get("display") if identity is not None else None
    return Dialog(
        id=dialog_id,
        call_id=el.get("call-id") or dialog_id,
        state=state,
        direction=el.get("direction"),
        remote_uri=remote_uri,
        remote_display=display or None,
        local_tag=el.get("local-tag") or None,
        remote_tag=el.get("remote-tag") or None,
    )


class Transition(StrEnum):
    RINGING = "ringing"
    ANSWERED = "answered"
    HUNG_UP = "hung_up"
    MISSED = "missed"


@dataclass(frozen=True, slots=True)
class CallChange:
    dialog: Dialog
    transition: Transition
    remote_number: str
    remote_name: str | None


@dataclass
class _Tracked:
    dialog: Dialog
    confirmed: bool
    announced: bool  # a RINGING/ANSWERED was reported


class DialogTracker:
    """Per-extension memory of dialogs; `apply` returns what changed since last time."""

    def __init__(self) -> None:
        self._active: dict[str, _Tracked] = {}
        self._finished: OrderedDict[str, None] = OrderedDict()
        self._version: int | None = None

    @property
    def busy(self) -> bool:
        return any(t.dialog.state is DialogState.CONFIRMED for t in self._active.values())

    @property
    def ringing(self) -> bool:
        return any(
            t.dialog.direction == "recipient" and t.dialog.state is not DialogState.CONFIRMED
            for t in self._active.values()
        )

    @property
    def calling(self) -> bool:
        return any(t.dialog.direction != "recipient" for t in self._active.values())

    def answered(self) -> list[Dialog]:
        """The dialogs in progress that were answered, oldest first."""
        return [t.dialog for t in self._active.values() if t.dialog.state is DialogState.CONFIRMED]

    def reset_version(self) -> None:
        """A new subscription restarts the document version (RFC 4235 §4.1)."""
        self._version = None

    def apply(self, info: DialogInfo | None) -> list[CallChange]:
        if info is None:
            info = DialogInfo(self._version or 0, True, "", ())
        if self._version is not None and info.version <= self._version and info.version != 0:
            return []  # a stale or repeated document
        self._version = info.version
        changes: list[CallChange] = []
        seen: set[str] = set()
        for dialog in info.dialogs:
            seen.add(dialog.id)
            changes += self._update(dialog)
        if info.full:
            # A dialog missing from a full state has ended (and its terminated entry expired).
            for dialog_id in [d for d in self._active if d not in seen]:
                old = self._active[dialog_id].dialog
                gone = Dialog(
                    old.id,
                    old.call_id,
                    DialogState.TERMINATED,
                    old.direction,
                    old.remote_uri,
                    old.remote_display,
                )
                changes += self._update(gone)
        return changes

    def _update(self, dialog: Dialog) -> list[CallChange]:
        if dialog.id in self._finished:
            return []
        tracked = self._active.get(dialog.id)
        if tracked is None and not dialog.state.active:
            # Ended before we saw it (e.g. while resubscribing): we cannot tell answered
            # from missed, so report nothing rather than guess.
            self._remember_finished(dialog.id)
            return []
        if tracked is None:
            tracked = _Tracked(dialog, confirmed=False, announced=False)
            self._active[dialog.id] = tracked
        changes: list[CallChange] = []
        if dialog.state is DialogState.CONFIRMED and not tracked.confirmed:
            tracked.confirmed = True
            tracked.announced = True
            changes.append(_change(dialog, Transition.ANSWERED))
        elif dialog.state.active and not tracked.announced:
            tracked.announced = True
            changes.append(_change(dialog, Transition.RINGING))
        elif dialog.state is DialogState.TERMINATED:
            del self._active[dialog.id]
            self._remember_finished(dialog.id)
            if tracked.confirmed:
                changes.append(_change(dialog, Transition.HUNG_UP))
            elif dialog.direction == "recipient":
                changes.append(_change(dialog, Transition.MISSED))
            elif tracked.announced:
                changes.append(_change(dialog, Transition.HUNG_UP))  # unanswered outgoing call
            return changes
        if tracked.confirmed and dialog.state is not DialogState.CONFIRMED:
            # RFC 4235 §3.7.1: a confirmed dialog only ever terminates. An "early" after
            # "confirmed" is a stale publication the PBX delivered late (Kamailio's PUBLISHes
            # for one call can overtake each other under load); it must not un-answer the call.
            return changes
        tracked.dialog = dialog
        return changes

    def _remember_finished(self, dialog_id: str) -> None:
        self._finished[dialog_id] = None
        while len(self._finished) > _FINISHED_MEMORY:
            self._finished.popitem(last=False)


def _change(dialog: Dialog, transition: Transition) -> CallChange:
    number = uri_user(dialog.remote_uri) if dialog.remote_uri else None
    return CallChange(
        dialog, transition, number or (dialog.remote_uri or "unknown"), dialog.remote_display
    )
