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


def calendar_item(event: FakeEvent, extended: list[dict[str, str]]) -> str:
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
    parts.append(f"<t:Start>{iso(event.start)}</t:Start><t:End>{iso(event.end)}</t:End>")
    parts.append(f"<t:IsAllDayEvent>{str(event.all_day).lower()}</t:IsAllDayEvent>")
    parts.append(f"<t:LegacyFreeBusyStatus>{event.busy}</t:LegacyFreeBusyStatus>")
    if event.location is not None:
        parts.append(f"<t:Location>{escape(event.location)}</t:Location>")
    if event.online_meeting_url is not None:
        parts.append(f"<t:NetShowUrl>{escape(event.online_meeting_url)}</t:NetShowUrl>")
    tz = quoteattr(event.timezone)
    parts.append(f"<t:StartTimeZone Id={tz} Name={tz}/><t:EndTimeZone Id={tz} Name={tz}/>")
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
