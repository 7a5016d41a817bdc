"""JSON shapes of the Graph fake (Microsoft Graph v1.0 event, schedule, mailboxSettings)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from tests.fakes.mailboxes import FakeEvent, FakeOof

SHOW_AS = {
    "Free": "free",
    "Tentative": "tentative",
    "Busy": "busy",
    "OOF": "oof",
    "WorkingElsewhere": "workingElsewhere",
}
# The fake knows one Windows zone; all-day events are midnight-to-midnight there.
EVENT_ZONE = ZoneInfo("Europe/Oslo")


# EWS MyResponseType -> Graph responseStatus.response (documented values).
RESPONSE = {
    "Organizer": "organizer",
    "Accept": "accepted",
    "Tentative": "tentativelyAccepted",
    "Decline": "declined",
    "NoResponseReceived": "notResponded",
    "Unknown": "none",
}


def graph_time(value: datetime, zone: str = "UTC") -> dict[str, str]:
    """Graph's dateTimeTimeZone: a local time without offset plus a zone name (any name
    other than UTC is written as Oslo wall-clock time, whatever the label says)."""
    local = value.astimezone(UTC if zone == "UTC" else EVENT_ZONE)
    return {"dateTime": local.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": zone}


def parse_time(value: dict[str, str]) -> datetime:
    if value.get("timeZone", "UTC") != "UTC":
        raise ValueError(f"fake accepts UTC times only, got {value!r}")
    return datetime.fromisoformat(value["dateTime"][:19]).replace(tzinfo=UTC)


def event(e: FakeEvent) -> dict[str, Any]:
    zone = e.graph_zone or ("W. Europe Standard Time" if e.all_day else "UTC")
    body: dict[str, Any] = {
        "id": e.item_id,
        "iCalUId": e.uid,
        "changeKey": e.change_key,
        "subject": e.subject,
        "isAllDay": e.all_day,
        "isCancelled": e.cancelled,
        "isOrganizer": e.response == "Organizer",
        "responseStatus": {
            "response": e.graph_response or RESPONSE[e.response],
            "time": "0001-01-01T00:00:00Z",
        },
        "showAs": SHOW_AS.get(e.busy, "unknown"),
        "type": "occurrence" if e.recurrence_id else "singleInstance",
        "start": graph_time(e.start, zone),
        "end": graph_time(e.end, zone),
        "location": {"displayName": e.location or "", "locationType": "default"},
        "isOnlineMeeting": e.online_meeting_url is not None,
        "onlineMeeting": {"joinUrl": e.online_meeting_url} if e.online_meeting_url else None,
        "originalStartTimeZone": e.timezone,
    }
    if e.sensitivity is not None:
        body["sensitivity"] = e.sensitivity.lower()
    if e.recurrence_id is not None:
        body["originalStart"] = e.recurrence_id.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return body


def removed(item_id: str) -> dict[str, Any]:
    return {"id": item_id, "@removed": {"reason": "deleted"}}


def schedule(address: str, events: list[FakeEvent] | None) -> dict[str, Any]:
    if events is None:
        return {
            "scheduleId": address,
            "error": {
                "message": "The specified mailbox was not found.",
                "responseCode": "ErrorMailRecipientNotFound",
            },
        }
    return {
        "scheduleId": address,
        "availabilityView": "",
        "scheduleItems": [
            {
                "isPrivate": e.sensitivity != "Normal",
                "status": SHOW_AS.get(e.busy, "unknown"),
                "start": graph_time(e.start),
                "end": graph_time(e.end),
            }
            for e in events
        ],
    }


AUDIENCE = {"None": "none", "Known": "contactsOnly", "All": "all"}


def automatic_replies(oof: FakeOof) -> dict[str, Any]:
    status = {"Disabled": "disabled", "Enabled": "alwaysEnabled", "Scheduled": "scheduled"}
    setting: dict[str, Any] = {
        "status": status[oof.state],
        "externalAudience": AUDIENCE[oof.external_audience],
        "internalReplyMessage": oof.internal_reply,
        "externalReplyMessage": oof.internal_reply
        if oof.external_reply is None
        else oof.external_reply,
    }
    if oof.start and oof.end:
        setting["scheduledStartDateTime"] = graph_time(oof.start, oof.graph_zone or "UTC")
        setting["scheduledEndDateTime"] = graph_time(oof.end, oof.graph_zone or "UTC")
    return setting


def error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}
