"""WebDAV/CalDAV request bodies and multistatus parsing (RFC 4918, 4791, 6578).

Only the few request shapes the connector needs, built with ElementTree so values are escaped.
Responses are parsed with defusedxml, refusing any DTD (samtek/untrusted_xml.py).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import unquote, urljoin

from samtek.untrusted_xml import UntrustedXmlError, parse_untrusted

DAV = "DAV:"
CALDAV = "urn:ietf:params:xml:ns:caldav"
CS = "http://calendarserver.org/ns/"

ET.register_namespace("D", DAV)
ET.register_namespace("C", CALDAV)
ET.register_namespace("CS", CS)


def clark(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


GETETAG = clark(DAV, "getetag")
SYNC_TOKEN = clark(DAV, "sync-token")
RESOURCETYPE = clark(DAV, "resourcetype")
DISPLAYNAME = clark(DAV, "displayname")
CURRENT_USER_PRINCIPAL = clark(DAV, "current-user-principal")
SUPPORTED_REPORT_SET = clark(DAV, "supported-report-set")
CALENDAR_HOME_SET = clark(CALDAV, "calendar-home-set")
CALENDAR_DATA = clark(CALDAV, "calendar-data")
SUPPORTED_COMPONENTS = clark(CALDAV, "supported-calendar-component-set")
GETCTAG = clark(CS, "getctag")
CALENDAR_TYPE = clark(CALDAV, "calendar")
SYNC_COLLECTION = clark(DAV, "sync-collection")
FREE_BUSY_QUERY = clark(CALDAV, "free-busy-query")


class DavXmlError(ValueError):
    """A server answered with XML we cannot use."""


@dataclass
class DavResource:
    """One <D:response>: its absolute URL, response-level status and 200-OK properties."""

    url: str
    status: int | None
    props: dict[str, ET.Element] = field(default_factory=dict)

    def text(self, name: str) -> str | None:
        element = self.props.get(name)
        if element is None or element.text is None:
            return None
        return element.text.strip()

    def hrefs(self, name: str, base: str) -> list[str]:
        element = self.props.get(name)
        if element is None:
            return []
        return [
            urljoin(base, (h.text or "").strip())
            for h in element.iter(clark(DAV, "href"))
            if (h.text or "").strip()
        ]

    def children(self, name: str) -> list[ET.Element]:
        element = self.props.get(name)
        return [] if element is None else list(element)


@dataclass
class Multistatus:
    resources: list[DavResource]
    sync_token: str | None


def _serialise(root: ET.Element) -> bytes:
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def _prop(parent: ET.Element, names: Iterable[str]) -> None:
    prop = ET.SubElement(parent, clark(DAV, "prop"))
    for name in names:
        ET.SubElement(prop, name)


def propfind(names: Iterable[str]) -> bytes:
    root = ET.Element(clark(DAV, "propfind"))
    _prop(root, names)
    return _serialise(root)


def utc_stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def calendar_query(start: datetime, end: datetime, names: Iterable[str]) -> bytes:
    """calendar-query for VEVENTs overlapping [start, end) (RFC 4791 §7.8)."""
    root = ET.Element(clark(CALDAV, "calendar-query"))
    _prop(root, names)
    filt = ET.SubElement(root, clark(CALDAV, "filter"))
    vcal = ET.SubElement(filt, clark(CALDAV, "comp-filter"), name="VCALENDAR")
    vevent = ET.SubElement(vcal, clark(CALDAV, "comp-filter"), name="VEVENT")
    ET.SubElement(vevent, clark(CALDAV, "time-range"), start=utc_stamp(start), end=utc_stamp(end))
    return _serialise(root)


def calendar_multiget(hrefs: Iterable[str]) -> bytes:
    root = ET.Element(clark(CALDAV, "calendar-multiget"))
    _prop(root, (GETETAG, CALENDAR_DATA))
    for href in hrefs:
        ET.SubElement(root, clark(DAV, "href")).text = href
    return _serialise(root)


def sync_collection(token: str | None) -> bytes:
    """sync-collection REPORT (RFC 6578 §3.2); an empty token asks for the initial state."""
    root = ET.Element(SYNC_COLLECTION)
    ET.SubElement(root, SYNC_TOKEN).text = token or ""
    ET.SubElement(root, clark(DAV, "sync-level")).text = "1"
    _prop(root, (GETETAG,))
    return _serialise(root)


def free_busy_query(start: datetime, end: datetime) -> bytes:
    root = ET.Element(FREE_BUSY_QUERY)
    ET.SubElement(root, clark(CALDAV, "time-range"), start=utc_stamp(start), end=utc_stamp(end))
    return _serialise(root)


def _status_code(text: str | None) -> int | None:
    # "HTTP/1.1 404 Not Found"
    parts = (text or "").split()
    if len(parts) >= 2 and parts[1].isdigit():
        return int(parts[1])
    return None


def parse_multistatus(body: bytes, request_url: str) -> Multistatus:
    try:
        root = parse_untrusted(body)
    except UntrustedXmlError as exc:
        raise DavXmlError(f"unusable XML from {request_url}: {exc}") from None
    if root.tag != clark(DAV, "multistatus"):
        raise DavXmlError(f"expected DAV:multistatus from {request_url}, got {root.tag}")
    resources: list[DavResource] = []
    for response in root.findall(clark(DAV, "response")):
        href = response.findtext(clark(DAV, "href"))
        if not href:
            continue
        resource = DavResource(
            url=urljoin(request_url, href.strip()),
            status=_status_code(response.findtext(clark(DAV, "status"))),
        )
        for propstat in response.findall(clark(DAV, "propstat")):
            if _status_code(propstat.findtext(clark(DAV, "status"))) != 200:
                continue
            prop = propstat.find(clark(DAV, "prop"))
            for element in [] if prop is None else list(prop):
                resource.props[element.tag] = element
        resources.append(resource)
    token = root.findtext(SYNC_TOKEN)
    return Multistatus(resources, token.strip() if token else None)


def same_resource(a: str, b: str) -> bool:
    """Compare two absolute URLs as WebDAV does: percent-encoding and a trailing slash aside."""
    return unquote(a).rstrip("/") == unquote(b).rstrip("/")


def error_condition(body: bytes) -> str | None:
    """The precondition element of a DAV:error body (e.g. 'valid-sync-token'), if any."""
    try:
        root = parse_untrusted(body)
    except UntrustedXmlError:
        return None  # no usable condition: the caller reports the status and the body start
    if root.tag != clark(DAV, "error") or not len(root):
        return None
    return root[0].tag.rsplit("}", 1)[-1]
