"""Free/busy: from a CalDAV free-busy-query answer (VFREEBUSY), or computed from events."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import icalendar

from samtek.calendar import CalendarError
from samtek.model import BusyBlock, BusyStatus, CalendarEvent, TimeWindow

_FBTYPE = {
    "BUSY": BusyStatus.BUSY,
    "BUSY-TENTATIVE": BusyStatus.TENTATIVE,
    "BUSY-UNAVAILABLE": BusyStatus.OOF,
}
_RANK = {BusyStatus.TENTATIVE: 1, BusyStatus.ELSEWHERE: 2, BusyStatus.BUSY: 3, BusyStatus.OOF: 4}


def parse_vfreebusy(ics: bytes, window: TimeWindow) -> list[BusyBlock]:
    """Busy blocks of a free-busy-query answer (RFC 4791 §7.10), clipped to the window."""
    try:
        calendar = icalendar.Calendar.from_ical(ics)
    except ValueError as exc:
        raise CalendarError(f"unparsable free-busy answer: {exc}") from exc
    blocks: list[BusyBlock] = []
    for component in calendar.walk("VFREEBUSY"):
        values = component.get("FREEBUSY", [])
        for period in values if isinstance(values, list) else [values]:
            fbtype = str(period.params.get("FBTYPE", "BUSY")).upper()
            busy = _FBTYPE.get(fbtype)
            start, end = period.start, period.end
            if busy is None or not isinstance(start, datetime) or not isinstance(end, datetime):
                continue  # FREE periods, or malformed ones
            blocks.append(BusyBlock(max(start, window.start), min(end, window.end), busy))
    return merge_blocks(b for b in blocks if b.end > b.start)


def blocks_from_events(events: Iterable[CalendarEvent], window: TimeWindow) -> list[BusyBlock]:
    return merge_blocks(
        BusyBlock(max(e.start, window.start), min(e.end, window.end), e.busy)
        for e in events
        if e.busy is not BusyStatus.FREE and window.overlaps(e.start, e.end)
    )


def merge_blocks(blocks: Iterable[BusyBlock]) -> list[BusyBlock]:
    """Sorted, with overlapping blocks of the same status joined.

    Overlaps of different statuses are kept apart: a consumer can still see that a tentative
    hour sits inside a busy afternoon.
    """
    merged: list[BusyBlock] = []
    for block in sorted(blocks, key=lambda b: (_RANK.get(b.busy, 0), b.start, b.end)):
        last = merged[-1] if merged else None
        if last and last.busy is block.busy and block.start <= last.end:
            merged[-1] = BusyBlock(last.start, max(last.end, block.end), last.busy)
        else:
            merged.append(block)
    return sorted(merged, key=lambda b: (b.start, b.end))
