"""Client side of the presence-overlay protocol (deploy/prosody/mod_samtek_overlay.lua).

The server applies an overlay (show + status) to what a user's contacts see, removes it at
`until` by itself, and tells us when the user changes status by hand (a "dismissal").
It also keeps a small schedule per user of overlays to apply at their `from` instant by its
own timers, and takes many sets, clears and schedules in one IQ (a batch).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree as ET

from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.stanza import Iq

from samtek.clock import SYSTEM_CLOCK, Clock, from_server_time, to_server_time
from samtek.model import Show
from samtek.xmpp.link import IqType, XmppLink

NS = "urn:samtek:presence-overlay:0"


@dataclass(frozen=True, slots=True)
class Overlay:
    show: Show
    status: str
    transition: str
    until: datetime


@dataclass(frozen=True, slots=True)
class Scheduled:
    """An overlay the server applies by itself at `start` (and removes at its `until`)."""

    start: datetime
    overlay: Overlay


@dataclass(frozen=True, slots=True)
class ServerOverlays:
    overlays: dict[str, Overlay]
    dismissed: dict[str, tuple[str, datetime]]  # jid -> (transition, until)
    scheduled: dict[str, tuple[Scheduled, ...]] = field(default_factory=dict)


class OverlayRejected(Exception):
    pass


class OverlayUnsupported(OverlayRejected):
    """The server's module predates this request (no schedules or batches)."""


UNSUPPORTED = ("service-unavailable", "feature-not-implemented")


@dataclass(frozen=True, slots=True)
class SetOp:
    jid: str
    overlay: Overlay


@dataclass(frozen=True, slots=True)
class ClearOp:
    jid: str


@dataclass(frozen=True, slots=True)
class ScheduleOp:
    """Replaces all of the user's pending entries (an empty tuple cancels them)."""

    jid: str
    entries: tuple[Scheduled, ...]


Op = SetOp | ClearOp | ScheduleOp
# Per item: "ok", "dismissed" (a set of a transition she dismissed by hand), or the refusal.
OpResult = str | OverlayRejected
MAX_BATCH = 250  # items per IQ; the module's default limit is 500
LIST_PAGE = 10_000  # items per `list` answer, in whole users (the module's default limit)


class PresenceOverlays:
    def __init__(self, link: XmppLink, domain: str, clock: Clock = SYSTEM_CLOCK) -> None:
        self._link = link
        self._domain = domain
        self._clock = clock  # `until` is in the server's own time on the wire

    async def set(self, jid: str, overlay: Overlay) -> bool:
        """Apply; False when the user already dismissed this transition by hand."""
        result = await self._send("set", self._element(SetOp(jid, overlay)), jid)
        return result.xml.find(f".//{{{NS}}}dismissed") is None

    async def clear(self, jid: str) -> None:
        await self._send("set", ET.Element(f"{{{NS}}}clear", jid=jid), jid)

    async def schedule(self, jid: str, entries: Sequence[Scheduled]) -> None:
        await self._send("set", self._element(ScheduleOp(jid, tuple(entries))), jid)

    async def batch(self, ops: Sequence[Op]) -> list[OpResult]:
        """Many operations in as few IQs as possible; one result per op, in order.

        Raises OverlayRejected when a whole IQ fails (e.g. a module without batches)."""
        results: list[OpResult] = []
        for first in range(0, len(ops), MAX_BATCH):
            chunk = ops[first : first + MAX_BATCH]
            payload = ET.Element(f"{{{NS}}}batch")
            payload.extend(self._element(op) for op in chunk)
            reply = await self._send("set", payload, f"{len(chunk)} people")
            found = reply.xml.find(f"{{{NS}}}batch")
            items = list(found) if found is not None else []
            if len(items) != len(chunk):
                raise OverlayRejected(f"batch of {len(chunk)}: {len(items)} results")
            for op, item in zip(chunk, items, strict=True):
                results.append(_result(op, item))
        return results

    def _element(self, op: Op) -> ET.Element:
        if isinstance(op, ClearOp):
            return ET.Element(f"{{{NS}}}clear", jid=op.jid)
        if isinstance(op, SetOp):
            return self._overlay_element("set", op.overlay, None, jid=op.jid)
        element = ET.Element(f"{{{NS}}}schedule", jid=op.jid)
        element.extend(self._overlay_element("entry", e.overlay, e.start) for e in op.entries)
        return element

    def _overlay_element(
        self, tag: str, overlay: Overlay, start: datetime | None, **attrs: str
    ) -> ET.Element:
        if start is None:
            until = _utc(to_server_time(self._clock, overlay.until))
        else:  # a schedule is exact: its entries meet at the boundaries
            attrs["from"] = _instant(to_server_time(self._clock, start))
            until = _instant(to_server_time(self._clock, overlay.until))
        element = ET.Element(
            f"{{{NS}}}{tag}",
            attrs,
            show=overlay.show.value,
            transition=overlay.transition,
            until=until,
        )
        ET.SubElement(element, f"{{{NS}}}status").text = overlay.status
        return element

    async def list(self) -> ServerOverlays:
        """Everything the server holds, in pages of about LIST_PAGE items (one answer
        from a module that predates pages)."""
        overlays: dict[str, Overlay] = {}
        dismissed: dict[str, tuple[str, datetime]] = {}
        scheduled: dict[str, list[Scheduled]] = {}
        after: str | None = None
        while True:
            request = ET.Element(f"{{{NS}}}list", max=str(LIST_PAGE))
            if after is not None:
                request.set("after", after)
            result = await self._send("get", request, "*")
            page = result.xml.find(f"{{{NS}}}list")
            if page is None:
                break
            for item in page.iterfind(f"{{{NS}}}overlay"):
                overlays[item.attrib["jid"]] = self._overlay_of(item)
            for item in page.iterfind(f"{{{NS}}}dismissed"):
                dismissed[item.attrib["jid"]] = (
                    item.attrib["transition"],
                    from_server_time(self._clock, _parse(item.attrib["until"])),
                )
            for item in page.iterfind(f"{{{NS}}}scheduled"):
                start = from_server_time(self._clock, _parse(item.attrib["from"]))
                scheduled.setdefault(item.attrib["jid"], []).append(
                    Scheduled(start, self._overlay_of(item))
                )
            last = page.get("last")
            if last is None:
                break
            if after is not None and last <= after:  # would never end
                raise OverlayRejected(f"overlay list: page after {after!r} ends at {last!r}")
            after = last
        return ServerOverlays(
            overlays,
            dismissed,
            {jid: tuple(sorted(e, key=lambda s: s.start)) for jid, e in scheduled.items()},
        )

    def _overlay_of(self, item: ET.Element) -> Overlay:
        status = item.find(f"{{{NS}}}status")
        return Overlay(
            show=Show(item.attrib["show"]),
            status=(status.text or "") if status is not None else "",
            transition=item.attrib["transition"],
            until=from_server_time(self._clock, _parse(item.attrib["until"])),
        )

    async def _send(self, kind: IqType, payload: ET.Element, jid: str) -> Iq:
        try:
            return await self._link.send_iq(self._domain, kind, payload)
        except IqTimeout as exc:
            raise OverlayRejected(f"overlay request for {jid}: no answer in time") from exc
        except IqError as exc:
            condition, text = _error_of(exc.iq)
            error = OverlayUnsupported if condition in UNSUPPORTED else OverlayRejected
            raise error(
                f"overlay {payload.tag.split('}')[1]} for {jid}: {condition}"
                f"{' - ' + text if text else ''}"
            ) from exc


def _result(op: Op, item: ET.Element) -> OpResult:
    name = item.tag.split("}")[-1]
    if name in ("ok", "dismissed"):
        return name
    kind = type(op).__name__.removesuffix("Op").lower()
    text = f" - {item.text}" if item.text else ""
    return OverlayRejected(f"overlay {kind} for {op.jid}: {item.get('condition')}{text}")


def _error_of(iq: Iq) -> tuple[str, str]:
    """(condition, text) read from the raw XML: on a component stream the <error/> is in
    jabber:component:accept, which slixmpp's iq["error"] does not parse (it answers
    "feature-not-implemented" for any error)."""
    for child in iq.xml:
        if child.tag.endswith("}error"):
            condition, text = "undefined-condition", ""
            for item in child:
                name = item.tag.split("}")[-1]
                if name == "text":
                    text = item.text or ""
                else:
                    condition = name
            return condition, text
    return "undefined-condition", ""


def _utc(value: datetime) -> str:
    # Whole seconds, rounded up: the server may clear a little late, never early.
    utc = value.astimezone(UTC)
    if utc.microsecond:
        utc = utc.replace(microsecond=0) + timedelta(seconds=1)
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def _instant(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
