"""A meeting request as an iCalendar object for a CalDAV PUT (RFC 5545, RFC 6638 fields)."""

from __future__ import annotations

import uuid
from datetime import UTC

import icalendar

from samtek.calendar import CalendarError, MeetingRequest
from samtek.clock import SYSTEM_CLOCK, Clock
from samtek.model import Person


def _address(person: Person) -> icalendar.vCalAddress:
    if not person.email:
        raise CalendarError(f"{person.id} has no e-mail address to invite")
    address = icalendar.vCalAddress(f"mailto:{person.email}")
    address.params["CN"] = icalendar.vText(person.name)
    return address


def meeting_ics(
    request: MeetingRequest, uid: str | None = None, clock: Clock = SYSTEM_CLOCK
) -> tuple[str, bytes]:
    """(uid, ics) for the organiser's copy; attendees get PARTSTAT=NEEDS-ACTION and RSVP."""
    if request.end <= request.start:
        raise CalendarError("a meeting must end after it starts")
    uid = uid or f"{uuid.uuid4()}@samtek"
    event = icalendar.Event()
    event.add("UID", uid)
    event.add("DTSTAMP", clock.now())
    # In UTC (RFC 5545 §3.3.5 form 2), not with a TZID: the VTIMEZONE icalendar generates
    # lists its changes as RDATEs, which vobject (Radicale) ignores, so a summer meeting read
    # back there was an hour late. A single meeting needs no home zone; UTC reads the same
    # everywhere.
    event.add("DTSTART", request.start.astimezone(UTC))
    event.add("DTEND", request.end.astimezone(UTC))
    event.add("SUMMARY", request.subject)
    event.add("SEQUENCE", 0)
    event.add("STATUS", "CONFIRMED")
    event.add("TRANSP", "OPAQUE")
    if request.body:
        event.add("DESCRIPTION", request.body)
    if request.location:
        event.add("LOCATION", request.location)
    if request.online_meeting_url:
        event.add("URL", request.online_meeting_url)
    organiser = _address(request.organiser)
    event["ORGANIZER"] = organiser
    for person in request.attendees:
        attendee = _address(person)
        attendee.params.update(
            {
                "ROLE": "REQ-PARTICIPANT",
                "PARTSTAT": "NEEDS-ACTION",
                "RSVP": "TRUE",
                "CUTYPE": "INDIVIDUAL",
            }
        )
        event.add("ATTENDEE", attendee)
    calendar = icalendar.Calendar()
    calendar.add("PRODID", "-//SAMTEK//CalDAV connector//EN")
    calendar.add("VERSION", "2.0")
    calendar.add_component(event)
    return uid, calendar.to_ical()
