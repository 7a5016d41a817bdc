"""Graph JSON -> SAMTEK model. Requests ask for UTC (Prefer: outlook.timezone="UTC"), but a
time may still carry a Windows zone name (or a custom label) when the header is not
honoured: Windows names are mapped to IANA ones (CLDR windowsZones); an event whose zone
cannot be named is refused alone, never the whole mailbox.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from samtek.calendar import CalendarError
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

BUSY = {
    "free": BusyStatus.FREE,
    "tentative": BusyStatus.TENTATIVE,
    "busy": BusyStatus.BUSY,
    "oof": BusyStatus.OOF,
    "workingElsewhere": BusyStatus.ELSEWHERE,
}
SENSITIVITY = {
    "normal": Sensitivity.NORMAL,
    "personal": Sensitivity.PRIVATE,
    "private": Sensitivity.PRIVATE,
    "confidential": Sensitivity.CONFIDENTIAL,
}


# responseStatus.response. "none" is what Graph reports for the organizer and for plain
# appointments; for an attendee it means not answered ("clients can treat notResponded ==
# none"), so it is read together with isOrganizer.
REPLY = {
    "organizer": Participation.ORGANIZER,
    "accepted": Participation.ACCEPTED,
    "tentativelyAccepted": Participation.TENTATIVE,
    "declined": Participation.DECLINED,
    "notResponded": Participation.NEEDS_ACTION,
}
_UTC_NAMES = ("UTC", "Etc/UTC", "tzone://Microsoft/Utc", "Coordinated Universal Time")


class EventRefused(ValueError):
    """One event cannot be read; the rest of the mailbox is still published."""


def busy_status(value: str | None) -> BusyStatus:
    # "unknown" or missing: busy rather than free by mistake.
    return BUSY.get(value or "", BusyStatus.BUSY)


def zone_of(name: str) -> ZoneInfo | None:
    """An IANA zone for an IANA or Windows name; None for labels nobody can resolve
    ("Customized Time Zone", "tzone://Microsoft/Custom")."""
    name = WINDOWS_TO_OLSON.get(name, name)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):  # also "../x" style keys: not a zone
        return None


def parse_time(value: dict[str, str]) -> datetime:
    """dateTimeTimeZone -> aware datetime (Graph writes 7 fractional digits)."""
    local = datetime.fromisoformat(value["dateTime"][:26])
    zone = value.get("timeZone") or "UTC"
    if zone in _UTC_NAMES:
        return local.replace(tzinfo=UTC)
    tz = zone_of(zone)
    if tz is None:
        raise CalendarError(f"Graph returned time zone {zone!r}, which has no IANA equivalent")
    return local.replace(tzinfo=tz)


def reply(data: dict[str, Any]) -> Participation | None:
    response = (data.get("responseStatus") or {}).get("response")
    if data.get("isOrganizer") is True:
        return Participation.ORGANIZER
    if response == "none" and data.get("isOrganizer") is False:
        return Participation.NEEDS_ACTION
    return REPLY.get(response or "")


def _day(value: dict[str, str]) -> date:
    return date.fromisoformat(value["dateTime"][:10])


def to_event(data: dict[str, Any], mailbox_tz: str) -> CalendarEvent | None:
    """The event as the mailbox owner lives it; None when it gives no presence (cancelled,
    declined). Raises EventRefused for an event that cannot be read."""
    if data.get("isCancelled"):
        return None
    busy = busy_after_reply(busy_status(data.get("showAs")), reply(data))
    if busy is None:
        return None
    try:
        start, end = _span(data, mailbox_tz)
    except CalendarError as e:
        raise EventRefused(str(e)) from e
    except (KeyError, TypeError, ValueError) as e:
        raise EventRefused(f"start or end missing or unreadable ({type(e).__name__})") from e
    original = data.get("originalStart")
    recurrence_id = (
        datetime.fromisoformat(original.replace("Z", "+00:00"))
        if original and data.get("type") in ("occurrence", "exception")
        else None
    )
    online = (data.get("onlineMeeting") or {}).get("joinUrl") or data.get("onlineMeetingUrl")
    return CalendarEvent(
        uid=data.get("iCalUId") or data["id"],
        start=start,
        end=max(end, start),
        busy=busy,
        # Missing or unknown sensitivity is never shown as normal.
        sensitivity=SENSITIVITY.get(data.get("sensitivity") or "", Sensitivity.PRIVATE),
        all_day=bool(data.get("isAllDay")),
        subject=data.get("subject"),
        location=(data.get("location") or {}).get("displayName") or None,
        online_meeting_url=online or None,
        recurrence_id=recurrence_id,
    )


def _span(data: dict[str, Any], mailbox_tz: str) -> tuple[datetime, datetime]:
    if data.get("isAllDay"):
        # All-day events are dates: midnight to midnight in the mailbox owner's zone,
        # whatever zone label they carry.
        tz = ZoneInfo(mailbox_tz)
        start = datetime.combine(_day(data["start"]), datetime.min.time(), tzinfo=tz)
        end = datetime.combine(_day(data["end"]), datetime.min.time(), tzinfo=tz)
        return start, max(end, start + timedelta(days=1))
    return parse_time(data["start"]), parse_time(data["end"])


def to_blocks(schedule: dict[str, Any]) -> list[BusyBlock]:
    return [
        BusyBlock(
            parse_time(item["start"]), parse_time(item["end"]), busy_status(item.get("status"))
        )
        for item in schedule.get("scheduleItems", [])
        if item.get("status") != "free"
    ]


# Graph automaticRepliesSetting.externalAudience: none | contactsOnly | all.
_AUDIENCE = {"none": ExternalAudience.NONE, "contactsOnly": ExternalAudience.KNOWN,
             "all": ExternalAudience.ALL}  # fmt: skip


def to_oof(setting: dict[str, Any] | None) -> OutOfOffice:
    status = (setting or {}).get("status", "disabled")
    if status == "disabled" or setting is None:
        return OutOfOffice(enabled=False)
    scheduled = status == "scheduled"
    return OutOfOffice(
        enabled=True,
        start=parse_time(setting["scheduledStartDateTime"]) if scheduled else None,
        end=parse_time(setting["scheduledEndDateTime"]) if scheduled else None,
        message=_text(setting.get("internalReplyMessage")),
        external_message=_text(setting.get("externalReplyMessage")),
        # Unknown or missing: nobody outside gets a reply (the safe reading).
        external_audience=_AUDIENCE.get(
            str(setting.get("externalAudience")), ExternalAudience.NONE
        ),
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
