"""The one redaction function for addresses and error text that leave the process.

Feed and server addresses carry secrets in many places: a password in the userinfo, a token
in the query (`?token=`, `?sig=`), a long random path segment (Google's `private-<hex>`,
Outlook's published-calendar token). Error messages from libraries repeat the address they
failed on, sometimes a redirect target we never configured. Everything shown in logs, health,
the admin API and the status page goes through `redact_text` (or `redact_url` for a known
address), and the log pipeline applies it once more as a safety net.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, MutableMapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

MASK = "***"

# A URL inside free text: a scheme, then anything up to white space or a quote/bracket.
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.\-]{1,15}://[^\s\"'<>`]+")
_TRAILING = ".,;:!?)]}"
# "Bearer abc", "Basic dXNlcjpwdw==", "token=abc", "client_secret: abc", "password='abc'".
_SCHEME_TOKEN = re.compile(r"\b(Bearer|Basic|Digest|Negotiate|NTLM)\s+[^\s,;\"']+", re.IGNORECASE)
# The end of a parameter name that holds a secret (client_secret, access_token, X-Api-Key):
# matching only the end keeps the scan linear whatever the text.
_SECRET_NAMES = (
    r"token|secret|passw(?:or)?d|pwd|api[_\-]?key|apikey|signature|sig"
    r"|credentials?|authorization|session(?:id)?|ticket"
)
_NAMED = re.compile(rf"(?i)({_SECRET_NAMES})([\"']?\s*[=:]\s*[\"']?)([^\s&\"',;)}}\]]+)")
# A path segment that looks generated: a long run of token characters with letters and digits.
_TOKENISH = re.compile(r"[A-Za-z0-9_\-]{16,}")
# A query string without a scheme before it (a bare path in a library's message).
_QUERY = re.compile(r"\?([^\s\"'<>`#?]*=[^\s\"'<>`#]*)")
_PRIVATE = re.compile(r"(?i)^private[-_]")


def redact_url(url: str) -> str:
    """`url` without userinfo, query values, fragment or secret-looking path segments.

    What remains (scheme, host, port, the readable path) is enough to tell which feed or
    server is meant.
    """
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return "<unparsable address>"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rsplit('@', 1)[1]}"
    path = "/".join(_segment(s) for s in parts.path.split("/"))
    query = "&".join(_query_item(item) for item in parts.query.split("&")) if parts.query else ""
    fragment = MASK if parts.fragment else ""
    return urlunsplit((parts.scheme, netloc, path, query, fragment))


def redact_text(text: str) -> str:
    """Free text (an error message, a log line) with every address and credential masked."""
    text = _URL.sub(_url_in_text, text)
    text = _QUERY.sub(lambda m: "?" + "&".join(_query_item(i) for i in m.group(1).split("&")), text)
    text = _SCHEME_TOKEN.sub(lambda m: f"{m.group(1)} {MASK}", text)
    return _NAMED.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)


def redact_value(value: Any) -> Any:
    """Structured data (a log event's values) with every string redacted."""
    if isinstance(value, str):
        return redact_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Mapping):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_value(v) for v in value]
    return redact_text(str(value))  # an exception, a URL object: as it would be rendered


def structlog_processor(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> dict[str, Any]:
    """The log pipeline's safety net: runs after exceptions are formatted, before rendering."""
    return {key: redact_value(value) for key, value in event.items()}


def _url_in_text(match: re.Match[str]) -> str:
    found = match.group(0)
    kept = found.rstrip(_TRAILING)
    return redact_url(kept) + found[len(kept) :]


def _segment(segment: str) -> str:
    if _PRIVATE.match(segment) or (_TOKENISH.search(segment) and _mixed(segment)):
        return MASK
    return segment


def _mixed(segment: str) -> bool:
    return any(c.isdigit() for c in segment) and any(c.isalpha() for c in segment)


def _query_item(item: str) -> str:
    name, sep, _ = item.partition("=")
    return f"{name}={MASK}" if sep else MASK
