"""From a directory address to calendar collections (RFC 4791 §6, RFC 5397).

address -> is it a calendar? done. Else its calendar-home-set, or the current-user-principal's
calendar-home-set; then the home's child collections that are calendars holding VEVENTs.
"""

from __future__ import annotations

from connectors.caldav import davxml
from connectors.caldav.client import CalDavError, DavClient, redact

_PROPS = [
    davxml.RESOURCETYPE,
    davxml.CURRENT_USER_PRINCIPAL,
    davxml.CALENDAR_HOME_SET,
    davxml.SUPPORTED_COMPONENTS,
]


def _is_event_calendar(resource: davxml.DavResource) -> bool:
    types = {child.tag for child in resource.children(davxml.RESOURCETYPE)}
    if davxml.CALENDAR_TYPE not in types:
        return False
    components = {c.get("name", "").upper() for c in resource.children(davxml.SUPPORTED_COMPONENTS)}
    return not components or "VEVENT" in components  # absent set means "all components"


def _own(status: davxml.Multistatus, url: str) -> davxml.DavResource:
    for resource in status.resources:
        if davxml.same_resource(resource.url, url):
            return resource
    if len(status.resources) == 1:  # some servers answer with a differently spelled href
        return status.resources[0]
    raise CalDavError(f"PROPFIND {redact(url)}: the answer does not describe the resource")


async def discover_calendars(client: DavClient, address: str) -> list[str]:
    """Calendar collection URLs (with trailing slash) reachable from `address`."""
    url = client.resolve(address)
    resource = _own(await client.propfind(url, _PROPS, depth=0), url)
    if _is_event_calendar(resource):
        return [url if url.endswith("/") else url + "/"]
    homes = resource.hrefs(davxml.CALENDAR_HOME_SET, url)
    if not homes:
        principals = resource.hrefs(davxml.CURRENT_USER_PRINCIPAL, url)
        if not principals:
            raise CalDavError(
                f"{redact(url)} is neither a calendar nor a principal, and the server names "
                "no current-user-principal"
            )
        principal = principals[0]
        found = _own(
            await client.propfind(principal, [davxml.CALENDAR_HOME_SET], depth=0), principal
        )
        homes = found.hrefs(davxml.CALENDAR_HOME_SET, principal)
        if not homes:
            raise CalDavError(f"principal {redact(principal)} has no calendar-home-set")
    calendars: list[str] = []
    for home in homes:
        listing = await client.propfind(home, _PROPS[:1] + _PROPS[3:], depth=1)
        for child in listing.resources:
            if davxml.same_resource(child.url, home) or not _is_event_calendar(child):
                continue
            calendars.append(child.url if child.url.endswith("/") else child.url + "/")
    if not calendars:
        raise CalDavError(f"no VEVENT calendar found under {redact(url)}")
    return sorted(set(calendars))
