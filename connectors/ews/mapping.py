"""exchangelib objects -> SAMTEK model.

Sensitivity and location are read as MAPI extended properties: exchangelib turns a missing
`Sensitivity` element into "Normal" (a privacy risk), while an absent extended property stays
None, which we treat as private. Location as PidLidLocation also keeps the view to one FindItem
round trip (exchangelib fetches `location` with an extra GetItem).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from exchangelib import CalendarItem, ExtendedProperty
from exchangelib.settings import OofSettings

from samtek.model import (
    BusyBlock,
    BusyStatus,
    CalendarEvent,
    ExternalAudience,
    OutOfOffice,
    Sensitivity,
)


class SensitivityTag(ExtendedProperty):  # type: ignore[misc]
    """PidTagSensitivity: 0 normal, 1 personal, 2 private, 3 confidential."""

    property_tag = 0x0036
    property_type = "Integer"


class LocationProp(ExtendedProperty):  # type: ignore[misc]
    """PidLidLocation (PSETID_Appointment 0x8208)."""

    distinguished_property_set_id = "Appointment"
    property_id = 0x8208
    property_type = "String"


class NetShowUrlProp(ExtendedProperty):  # type: ignore[misc]
    """PidLidNetShowUrl (PSETID_Appointment 0x8248): the URL to join an online meeting."""

    distinguished_property_set_id = "Appointment"
    property_id = 0x8248
    property_type = "String"


# Registered once per process (module import): exchangelib's supported way to add fields.
# EWS returns extended properties from FindItem, but exchangelib marks them all "complex",
# which would add a GetItem round trip per mailbox; these three are plain scalars.
for _name, _prop in (
    ("samtek_sensitivity", SensitivityTag),
    ("samtek_location", LocationProp),
    ("samtek_online_url", NetShowUrlProp),
):
    CalendarItem.register(_name, _prop)
    CalendarItem.get_field_by_fieldname(_name).is_complex = False

# Only FindItem-able fields: one round trip per mailbox. The UID is "complex" in exchangelib
# (a GetItem each), so the ItemId (stable while the item exists) identifies an occurrence.
FIELDS = (
    "subject",
    "start",
    "end",
    "is_all_day",
    "legacy_free_busy_status",
    "recurrence_id",
    "samtek_sensitivity",
    "samtek_location",
    "samtek_online_url",
    "_start_timezone",
    "_end_timezone",
)

BUSY = {
    "Free": BusyStatus.FREE,
    "Tentative": BusyStatus.TENTATIVE,
    "Busy": BusyStatus.BUSY,
    "OOF": BusyStatus.OOF,
    "WorkingElsewhere": BusyStatus.ELSEWHERE,
}
SENSITIVITY = {
    0: Sensitivity.NORMAL,
    1: Sensitivity.PRIVATE,  # "personal": not for colleagues' eyes either
    2: Sensitivity.PRIVATE,
    3: Sensitivity.CONFIDENTIAL,
}


def busy_status(value: str | None) -> BusyStatus:
    # NoData / missing: assume busy rather than showing someone as free by mistake.
    return BUSY.get(value or "", BusyStatus.BUSY)


def plain(value: datetime) -> datetime:
    """exchangelib's EWSDateTime as a plain UTC datetime (comparable, picklable, JSON-able)."""
    offset = value.utcoffset()
    if offset is None:
        raise ValueError(f"EWS returned a naive time {value!r}")
    naive = value.replace(tzinfo=None) - offset
    return datetime(*naive.timetuple()[:6], naive.microsecond, tzinfo=UTC)


def _aware(value: date | datetime, tz: ZoneInfo, *, end: bool) -> datetime:
    if isinstance(value, datetime):
        return plain(value)
    # exchangelib gives all-day events as dates (end inclusive) in the event's own zone;
    # the day starts at midnight in the mailbox owner's zone.
    day = value + timedelta(days=1) if end else value
    return datetime.combine(day, datetime.min.time(), tzinfo=tz)


def to_event(item: Any, mailbox_tz: str) -> CalendarEvent:
    tz = ZoneInfo(mailbox_tz)
    start = _aware(item.start, tz, end=False)
    end = _aware(item.end, tz, end=True)
    raw_sensitivity = item.samtek_sensitivity
    return CalendarEvent(
        uid=item.id,
        start=start,
        end=max(end, start),
        busy=busy_status(item.legacy_free_busy_status),
        sensitivity=SENSITIVITY.get(raw_sensitivity, Sensitivity.PRIVATE),
        all_day=bool(item.is_all_day),
        subject=item.subject,
        location=item.samtek_location or None,
        online_meeting_url=item.samtek_online_url or None,
        recurrence_id=plain(item.recurrence_id) if item.recurrence_id else None,
    )


def to_blocks(view: Any) -> list[BusyBlock]:
    return [
        BusyBlock(start=plain(e.start), end=plain(e.end), busy=busy_status(e.busy_type))
        for e in (view.calendar_events or ())
        if e.busy_type != "Free"
    ]


# EWS ExternalAudience (MS-OXWSOOF): None | Known (the mailbox's contacts) | All.
_AUDIENCE = {"None": ExternalAudience.NONE, "Known": ExternalAudience.KNOWN,
             "All": ExternalAudience.ALL}  # fmt: skip


def to_oof(settings: OofSettings | None) -> OutOfOffice:
    if settings is None or settings.state == OofSettings.DISABLED:
        return OutOfOffice(enabled=False)
    scheduled = settings.state == OofSettings.SCHEDULED
    return OutOfOffice(
        enabled=True,
        start=plain(settings.start) if scheduled and settings.start else None,
        end=plain(settings.end) if scheduled and settings.end else None,
        message=str(settings.internal_reply) if settings.internal_reply else None,
        external_message=str(settings.external_reply) if settings.external_reply else None,
        # Unknown or missing: nobody outside gets a reply (the safe reading).
        external_audience=_AUDIENCE.get(str(settings.external_audience), ExternalAudience.NONE),
    )
