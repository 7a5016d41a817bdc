"""Graph JSON -> SAMTEK model. Requests ask for UTC (Prefer: outlook.timezone="UTC")."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from samtek.calendar import CalendarError
from samtek.model import (
    BusyBlock,
    BusyStatus,
    CalendarEvent,
    ExternalAudience,
    OutOfOffice,
    Sensitivity,
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


def busy_status(value: str | None) -> BusyStatus:
    # "unknown" or missing: busy rather than free by mistake.
    return BUSY.get(value or "", BusyStatus.BUSY)


def parse_time(value: dict[str, str]) -> datetime:
    """dateTimeTimeZone -> aware datetime (Graph writes 7 fractional digits)."""
    local = datetime.fromisoformat(value["dateTime"][:26])
    zone = value.get("timeZone") or "UTC"
    if zone in ("UTC", "Etc/UTC", "tzone://Microsoft/Utc"):
        return local.replace(tzinfo=UTC)
    try:
        return local.replace(tzinfo=ZoneInfo(zone))
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise CalendarError(
            f"Graph returned time zone {zone!r}, which is not an IANA name (requests ask for UTC)"
        ) from e


def _day(value: dict[str, str]) -> date:
    return date.fromisoformat(value["dateTime"][:10])


def to_event(data: dict[str, Any], mailbox_tz: str) -> CalendarEvent:
    if data.get("isAllDay"):
        # All-day events are dates: midnight to midnight in the mailbox owner's zone.
        tz = ZoneInfo(mailbox_tz)
        start = datetime.combine(_day(data["start"]), datetime.min.time(), tzinfo=tz)
        end = datetime.combine(_day(data["end"]), datetime.min.time(), tzinfo=tz)
        end = max(end, start + timedelta(days=1))
    else:
        start, end = parse_time(data["start"]), parse_time(data["end"])
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
        busy=busy_status(data.get("showAs")),
        # Missing or unknown sensitivity is never shown as normal.
        sensitivity=SENSITIVITY.get(data.get("sensitivity") or "", Sensitivity.PRIVATE),
        all_day=bool(data.get("isAllDay")),
        subject=data.get("subject"),
        location=(data.get("location") or {}).get("displayName") or None,
        online_meeting_url=online or None,
        recurrence_id=recurrence_id,
    )


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
