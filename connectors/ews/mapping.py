"""exchangelib objects -> SAMTEK model.

Sensitivity and location are read as MAPI extended properties: exchangelib turns a missing
`Sensitivity` element into "Normal" (a privacy risk), while an absent extended property stays
None, which we treat as private. Location as PidLidLocation also keeps the view to one FindItem
round trip (exchangelib fetches `location` with an extra GetItem).
"""

from __future__ import annotations

import re
import warnings
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from exchangelib import CalendarItem, ExtendedProperty
from exchangelib.settings import OofSettings
from exchangelib.util import TNS

from samtek.model import (
    BusyBlock,
    BusyStatus,
    CalendarEvent,
    ExternalAudience,
    OutOfOffice,
    Participation,
    Sensitivity,
    busy_after_reply,
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
    "is_cancelled",
    "appointment_state",
    "my_response_type",
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


# MyResponseType (ResponseTypeType). "Unknown" and a missing value keep the event's own
# busy status; "NoResponseReceived" is an unanswered invitation (tentative, as in Outlook).
REPLY = {
    "Organizer": Participation.ORGANIZER,
    "Accept": Participation.ACCEPTED,
    "Tentative": Participation.TENTATIVE,
    "Decline": Participation.DECLINED,
    "NoResponseReceived": Participation.NEEDS_ACTION,
}


class ItemRefused(ValueError):
    """One calendar item cannot be read; the rest of the mailbox is still published."""


# A Period's Bias (MS-OXWSGTZ): UTC = local time + bias, as an xs:duration ("-PT1H").
_BIAS = re.compile(r"^(-)?P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


def _offsets(elem: Any, tag: str) -> list[timedelta]:
    """UTC offsets of the periods of a custom zone definition (StartTimeZone/EndTimeZone)."""
    zone = elem.find(f"{{{TNS}}}{tag}")
    found = []
    for period in () if zone is None else zone.iter(f"{{{TNS}}}Period"):
        match = _BIAS.match(period.get("Bias") or "")
        if match is None or not any(match.groups()[1:]):
            continue
        days, hours, minutes, seconds = (int(g or 0) for g in match.groups()[1:])
        bias = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        found.append(bias if match.group(1) else -bias)  # offset = -bias
    return found


def _all_day_date(value: datetime, offsets: list[timedelta], fallback: Any) -> date:
    """The date of an all-day boundary: midnight in one of the definition's periods, or,
    when the definition says nothing usable, the date in the mailbox's zone."""
    instant = plain(value).replace(tzinfo=None)
    for offset in offsets:
        local = instant + offset
        if local.time() == time(0, 0):
            return local.date()
    return value.astimezone(fallback).date()


def _from_xml(cls: type[CalendarItem], elem: Any, account: Any) -> CalendarItem:
    """CalendarItem.from_xml, except that an all-day item whose StartTimeZone exchangelib
    cannot name ("Customized Time Zone", sent by real servers with its Periods and
    TransitionsGroups) takes its dates from that definition, else in the mailbox's zone
    (the account's default zone), never in the zone of the host SAMTEK runs on."""
    # Read before exchangelib parses the item: it clears the element afterwards.
    offsets = {tag: _offsets(elem, tag) for tag in ("StartTimeZone", "EndTimeZone")}
    item = super(CalendarItem, cls).from_xml(elem=elem, account=account)
    if not item.is_all_day:
        return item
    for name, tag in (("start", "StartTimeZone"), ("end", "EndTimeZone")):
        value = getattr(item, name)
        if not isinstance(value, datetime):
            continue
        if name == "end":
            value -= timedelta(days=1)  # EWS sends the exclusive end, exchangelib keeps dates
        tz = getattr(item, f"_{name}_timezone")
        if tz is not None:
            setattr(item, name, value.astimezone(tz).date())
        else:
            setattr(item, name, _all_day_date(value, offsets[tag], account.default_timezone))
    return item


# Replaces exchangelib's version (same behaviour for named zones) for the whole process.
CalendarItem.from_xml = classmethod(_from_xml)
# exchangelib warns (a long text on stderr) for every zone it cannot name; handled above.
warnings.filterwarnings(
    "ignore",
    message=r"Cannot convert value .* on field '_(start|end)_timezone'",
    category=UserWarning,
)


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


def cancelled(item: Any) -> bool:
    """IsCancelled, or the Canceled bit of AppointmentState (either may come alone)."""
    return bool(item.is_cancelled) or "Canceled" in (item.appointment_state or ())


def to_event(item: Any, mailbox_tz: str) -> CalendarEvent | None:
    """The event as the mailbox owner lives it; None when it gives no presence (cancelled,
    declined). Raises ItemRefused for an item that cannot be read."""
    if not item.id:
        raise ItemRefused("no ItemId")
    if item.start is None or item.end is None:
        raise ItemRefused("Start or End missing or unreadable")
    if cancelled(item):
        return None
    busy = busy_after_reply(
        busy_status(item.legacy_free_busy_status), REPLY.get(item.my_response_type or "")
    )
    if busy is None:
        return None
    tz = ZoneInfo(mailbox_tz)
    try:
        start = _aware(item.start, tz, end=False)
        end = _aware(item.end, tz, end=True)
    except (ValueError, OverflowError) as e:
        raise ItemRefused(f"unreadable time: {e}") from e
    raw_sensitivity = item.samtek_sensitivity
    return CalendarEvent(
        uid=item.id,
        start=start,
        end=max(end, start),
        busy=busy,
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
