"""SOAP/XML rendering for the EWS fake (documented EWS schema, http:// namespaces)."""

from __future__ import annotations

from datetime import UTC, datetime
from xml.sax.saxutils import escape, quoteattr

from tests.fakes.mailboxes import FakeEvent, FakeOof

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"
E = "http://schemas.microsoft.com/exchange/services/2006/errors"

SENSITIVITY_TAG = {"Normal": 0, "Personal": 1, "Private": 2, "Confidential": 3}


def iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def envelope(body: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<s:Envelope xmlns:s="{SOAP}"><s:Header>'
        f'<h:ServerVersionInfo xmlns:h="{T}" MajorVersion="15" MinorVersion="1"'
        ' MajorBuildNumber="2507" MinorBuildNumber="6" Version="Exchange2016"/>'
        f"</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    )


def response(op: str, messages: str) -> str:
    return envelope(
        f'<m:{op}Response xmlns:m="{M}" xmlns:t="{T}">'
        f"<m:ResponseMessages>{messages}</m:ResponseMessages></m:{op}Response>"
    )


def ok_message(op: str, inner: str = "") -> str:
    return (
        f'<m:{op}ResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>'
        f"{inner}</m:{op}ResponseMessage>"
    )


def error_message(op: str, code: str, text: str) -> str:
    return (
        f'<m:{op}ResponseMessage ResponseClass="Error">'
        f"<m:MessageText>{escape(text)}</m:MessageText>"
        f"<m:ResponseCode>{code}</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>"
        f"</m:{op}ResponseMessage>"
    )


def soap_fault(code: str, text: str, back_off_ms: int | None = None) -> str:
    extra = ""
    if back_off_ms is not None:
        extra = (
            f'<t:MessageXml xmlns:t="{T}"><t:Value Name="BackOffMilliseconds">{back_off_ms}'
            "</t:Value></t:MessageXml>"
        )
    return envelope(
        f'<s:Fault><faultcode xmlns:a="{T}">a:{code}</faultcode>'
        f'<faultstring xml:lang="en-US">{escape(text)}</faultstring><detail>'
        f'<e:ResponseCode xmlns:e="{E}">{code}</e:ResponseCode>'
        f'<e:Message xmlns:e="{E}">{escape(text)}</e:Message>{extra}</detail></s:Fault>'
    )


def _extended(event: FakeEvent, wanted: list[dict[str, str]]) -> str:
    out = []
    for uri in wanted:
        value: str | None = None
        if uri.get("PropertyTag", "").lower() in ("0x36", "0x0036", "54"):
            tag = SENSITIVITY_TAG.get(event.sensitivity or "")
            value = None if tag is None else str(tag)
        elif uri.get("DistinguishedPropertySetId") == "Appointment" and uri.get("PropertyId") in (
            "33288",
            "0x8208",
        ):
            value = event.location
        elif uri.get("DistinguishedPropertySetId") == "Appointment" and uri.get("PropertyId") in (
            "33352",
            "0x8248",
        ):
            value = event.online_meeting_url
        if value is None:
            continue
        attrs = " ".join(f"{k}={quoteattr(v)}" for k, v in uri.items())
        out.append(
            f"<t:ExtendedProperty><t:ExtendedFieldURI {attrs}/>"
            f"<t:Value>{escape(value)}</t:Value></t:ExtendedProperty>"
        )
    return "".join(out)


def custom_zone(
    standard: str, daylight: str, to_dst: tuple[int, int], to_std: tuple[int, int]
) -> str:
    """The inside of a TimeZoneDefinitionType (MS-OXWSGTZ): two periods with their Bias
    (UTC = local + bias) and a yearly group of RecurringDayTransitions, each given as
    (month, occurrence of Sunday; -1 is the last)."""

    def transition(to: str, month_occurrence: tuple[int, int]) -> str:
        month, occurrence = month_occurrence
        return (
            f'<t:RecurringDayTransition><t:To Kind="Period">{to}</t:To>'
            f"<t:TimeOffset>PT2H</t:TimeOffset><t:Month>{month}</t:Month>"
            f"<t:DayOfWeek>Sunday</t:DayOfWeek><t:Occurrence>{occurrence}</t:Occurrence>"
            "</t:RecurringDayTransition>"
        )

    return (
        f'<t:Periods><t:Period Bias="{standard}" Name="Standard" Id="Std"/>'
        f'<t:Period Bias="{daylight}" Name="Daylight" Id="Dlt/1"/></t:Periods>'
        '<t:TransitionsGroups><t:TransitionsGroup Id="0">'
        f"{transition('Dlt/1', to_dst)}{transition('Std', to_std)}"
        "</t:TransitionsGroup></t:TransitionsGroups>"
        '<t:Transitions><t:Transition><t:To Kind="Group">0</t:To></t:Transition></t:Transitions>'
    )


# What Exchange sends as StartTimeZone/EndTimeZone for an event made in a zone it cannot
# name (a custom definition, e.g. from an iCalendar invitation): Central European rules.
CENTRAL_EUROPE = custom_zone("-PT1H", "-PT2H", (3, -1), (10, -1))
NEW_ZEALAND = custom_zone("-PT12H", "-PT13H", (9, -1), (4, 1))


def _zone(tag: str, event: FakeEvent) -> str:
    name = quoteattr(event.timezone)
    if event.timezone == "Customized Time Zone":
        body = event.ews_custom_zone or CENTRAL_EUROPE
        return f"<t:{tag} Id={name} Name={name}>{body}</t:{tag}>"
    return f"<t:{tag} Id={name} Name={name}/>"


def calendar_item(event: FakeEvent, extended: list[dict[str, str]], asked: set[str]) -> str:
    """One CalendarItem; meeting fields only when asked for (FieldURI), as EWS does."""
    parts = [
        f"<t:CalendarItem><t:ItemId Id={quoteattr(event.item_id)}"
        f" ChangeKey={quoteattr(event.change_key)}/>",
        f"<t:Subject>{escape(event.subject)}</t:Subject>",
    ]
    if event.sensitivity is not None:
        parts.append(f"<t:Sensitivity>{event.sensitivity}</t:Sensitivity>")
    parts.append(_extended(event, extended))
    parts.append(f"<t:UID>{escape(event.uid)}</t:UID>")
    if event.recurrence_id is not None:
        parts.append(f"<t:RecurrenceId>{iso(event.recurrence_id)}</t:RecurrenceId>")
    start = escape(event.ews_start_text) if event.ews_start_text is not None else iso(event.start)
    parts.append(f"<t:Start>{start}</t:Start><t:End>{iso(event.end)}</t:End>")
    parts.append(f"<t:IsAllDayEvent>{str(event.all_day).lower()}</t:IsAllDayEvent>")
    parts.append(f"<t:LegacyFreeBusyStatus>{event.busy}</t:LegacyFreeBusyStatus>")
    if event.location is not None:
        parts.append(f"<t:Location>{escape(event.location)}</t:Location>")
    meeting = event.response != "Organizer" or event.cancelled
    if "calendar:IsCancelled" in asked:
        parts.append(f"<t:IsCancelled>{str(event.cancelled).lower()}</t:IsCancelled>")
    if "calendar:MyResponseType" in asked:
        parts.append(f"<t:MyResponseType>{event.response}</t:MyResponseType>")
    if "calendar:AppointmentState" in asked:
        # PidLidAppointmentStateFlags: 1 meeting, 2 received (attendee's copy), 4 cancelled.
        state = (1 if meeting else 0) | (2 if event.response != "Organizer" else 0)
        state |= 4 if event.cancelled else 0
        parts.append(f"<t:AppointmentState>{state}</t:AppointmentState>")
    parts.append(_zone("StartTimeZone", event) + _zone("EndTimeZone", event))
    if event.online_meeting_url is not None:
        parts.append(f"<t:NetShowUrl>{escape(event.online_meeting_url)}</t:NetShowUrl>")
    parts.append("</t:CalendarItem>")
    return "".join(parts)


def oof_response(oof: FakeOof) -> str:
    duration = ""
    if oof.start and oof.end:
        duration = (
            f"<Duration><StartTime>{iso(oof.start)}</StartTime>"
            f"<EndTime>{iso(oof.end)}</EndTime></Duration>"
        )
    reply = escape(oof.internal_reply)
    external = reply if oof.external_reply is None else escape(oof.external_reply)
    return envelope(
        f'<GetUserOofSettingsResponse xmlns="{M}">'
        '<ResponseMessage ResponseClass="Success"><ResponseCode>NoError</ResponseCode>'
        f'</ResponseMessage><OofSettings xmlns="{T}"><OofState>{oof.state}</OofState>'
        f"<ExternalAudience>{oof.external_audience}</ExternalAudience>{duration}"
        f"<InternalReply><Message>{reply}</Message></InternalReply>"
        f"<ExternalReply><Message>{external}</Message></ExternalReply></OofSettings>"
        "<AllowExternalOof>All</AllowExternalOof></GetUserOofSettingsResponse>"
    )


Blocks = list[tuple[datetime, datetime, str]]


def free_busy_response(blocks_per_mailbox: list[Blocks | None]) -> str:
    """Times are written in UTC; the connector asks with a UTC TimeZone (bias 0)."""
    out = []
    for blocks in blocks_per_mailbox:
        if blocks is None:
            out.append(
                '<FreeBusyResponse><ResponseMessage ResponseClass="Error">'
                "<MessageText>Mailbox not found</MessageText>"
                "<ResponseCode>ErrorMailRecipientNotFound</ResponseCode>"
                "</ResponseMessage></FreeBusyResponse>"
            )
            continue
        events = "".join(
            f"<CalendarEvent><StartTime>{s.astimezone(UTC):%Y-%m-%dT%H:%M:%S}</StartTime>"
            f"<EndTime>{e.astimezone(UTC):%Y-%m-%dT%H:%M:%S}</EndTime>"
            f"<BusyType>{busy}</BusyType></CalendarEvent>"
            for s, e, busy in blocks
        )
        out.append(
            '<FreeBusyResponse><ResponseMessage ResponseClass="Success">'
            "<ResponseCode>NoError</ResponseCode></ResponseMessage>"
            f'<FreeBusyView><FreeBusyViewType xmlns="{T}">FreeBusy</FreeBusyViewType>'
            f'<CalendarEventArray xmlns="{T}">{events}</CalendarEventArray></FreeBusyView>'
            "</FreeBusyResponse>"
        )
    return envelope(
        f'<GetUserAvailabilityResponse xmlns="{M}"><FreeBusyResponseArray>{"".join(out)}'
        "</FreeBusyResponseArray></GetUserAvailabilityResponse>"
    )
