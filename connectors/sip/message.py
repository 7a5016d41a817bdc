"""SIP message parsing and building (RFC 3261 §7), just what the connector needs.

Headers keep their order and repeats; names are matched case-insensitively and the compact
forms (RFC 3261 §7.3.3) are expanded on parse so the rest of the code sees one spelling.
Parsing is strict and raises only SipParseError: Via, From, To, Call-ID and a well-formed
CSeq are required, numbers are ASCII digits (str.isdigit() and
int() also take "²" and "٣"), the start line and header names are RFC 3261 tokens, and a
Content-Length that is malformed, repeated differently or longer than the datagram refuses
the message (RFC 3261 §18.3).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

_COMPACT = {
    "i": "call-id",
    "m": "contact",
    "e": "content-encoding",
    "l": "content-length",
    "c": "content-type",
    "f": "from",
    "s": "subject",
    "k": "supported",
    "t": "to",
    "v": "via",
    "o": "event",
    "u": "allow-events",
    "r": "refer-to",
}

# RFC 3261 §8.1.1.7: branches starting with this cookie are globally unique per transaction.
BRANCH_COOKIE = "z9hG4bK"


class SipParseError(ValueError):
    """A datagram that is not a well-formed SIP message."""


# RFC 3261 §25.1 token (method names, header names).
_TOKEN = re.compile(r"[A-Za-z0-9.!%*_+`'~-]+")
_MAX_HEADERS = 100
_REQUIRED = ("Via", "From", "To", "Call-ID", "CSeq")  # RFC 3261 §8.1.1, in responses too


def ascii_int(text: str | None, max_digits: int = 10) -> int | None:
    """A non-negative integer written in ASCII digits only, else None."""
    value = (text or "").strip(" \t")
    if 0 < len(value) <= max_digits and value.isascii() and value.isdigit():
        return int(value)
    return None


def new_token(nbytes: int = 8) -> str:
    return secrets.token_hex(nbytes)


def new_branch() -> str:
    return BRANCH_COOKIE + new_token()


@dataclass
class SipMessage:
    """A request (method and uri set) or a response (status set)."""

    method: str | None = None
    uri: str | None = None
    status: int | None = None
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @property
    def is_request(self) -> bool:
        return self.method is not None

    def get(self, name: str) -> str | None:
        key = name.lower()
        return next((v for n, v in self.headers if n.lower() == key), None)

    def get_all(self, name: str) -> list[str]:
        """Every value of a header, splitting comma-joined values that hold name-addrs."""
        key = name.lower()
        values: list[str] = []
        for n, v in self.headers:
            if n.lower() == key:
                values.extend(split_header_list(v) if key in _LIST_HEADERS else [v])
        return values

    def require(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise SipParseError(f"missing {name} header")
        return value

    def set(self, name: str, value: str) -> None:
        """Replace every `name` header by one with `value`, where the first one was."""
        key = name.lower()
        at = next((i for i, (n, _) in enumerate(self.headers) if n.lower() == key), None)
        self.headers = [(n, v) for n, v in self.headers if n.lower() != key]
        self.headers.insert(len(self.headers) if at is None else at, (name, value))

    def add(self, name: str, value: str) -> None:
        self.headers.append((name, value))

    @property
    def call_id(self) -> str:
        return self.require("Call-ID")

    @property
    def cseq(self) -> tuple[int, str]:
        number, _, method = self.require("CSeq").strip().partition(" ")
        value, method = ascii_int(number), method.strip()
        if value is None or not _TOKEN.fullmatch(method):
            raise SipParseError(f"bad CSeq {self.get('CSeq')!r}"[:120])
        return value, method.upper()

    @property
    def top_branch(self) -> str | None:
        vias = self.get_all("Via")  # a Via line may hold several comma-joined hops
        return param(vias[0], "branch") if vias else None

    def encode(self) -> bytes:
        if self.is_request:
            start = f"{self.method} {self.uri} SIP/2.0"
        else:
            start = f"SIP/2.0 {self.status} {self.reason}"
        lines = [start]
        lines += [f"{n}: {v}" for n, v in self.headers if n.lower() != "content-length"]
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body

    def summary(self) -> str:
        if self.is_request:
            return f"{self.method} {self.uri}"
        return f"{self.status} {self.reason} ({self.get('CSeq')})"


_LIST_HEADERS = {"via", "route", "record-route", "contact"}


def split_header_list(value: str) -> list[str]:
    """Split a comma-separated header value, ignoring commas inside <...> or quotes."""
    parts: list[str] = []
    depth, quoted = 0, False
    current: list[str] = []
    for ch in value:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "<":
            depth += 1
        elif not quoted and ch == ">":
            depth -= 1
        if ch == "," and depth == 0 and not quoted:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    if "".join(current).strip():
        parts.append("".join(current).strip())
    return parts


def parse(data: bytes) -> SipMessage:
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = data.partition(b"\n\n")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        raise SipParseError("header section is not UTF-8") from None
    lines = re.split(r"\r?\n", text)
    if len(lines) > _MAX_HEADERS:
        raise SipParseError(f"more than {_MAX_HEADERS} header lines")
    # Unfold continuation lines (RFC 3261 §7.3.1).
    unfolded: list[str] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and unfolded:
            unfolded[-1] += " " + line.strip()
        elif line:
            unfolded.append(line)
    msg = SipMessage()
    parts = lines[0].split(" ", 2)
    if len(parts) < 2:
        raise SipParseError(f"bad start line {lines[0][:80]!r}")
    if parts[0] == "SIP/2.0":
        status = ascii_int(parts[1], 3)
        if status is None or not 100 <= status <= 699:
            raise SipParseError(f"bad status line {lines[0][:80]!r}")
        msg.status = status
        msg.reason = parts[2] if len(parts) > 2 else ""
    else:
        if len(parts) != 3 or parts[2] != "SIP/2.0" or not _TOKEN.fullmatch(parts[0]):
            raise SipParseError(f"bad request line {lines[0][:80]!r}")
        msg.method, msg.uri = parts[0].upper(), parts[1]
    for line in unfolded:
        name, colon, value = line.partition(":")
        name = name.strip()
        if not colon or not _TOKEN.fullmatch(name):
            raise SipParseError(f"bad header line {line[:80]!r}")
        msg.headers.append((_COMPACT.get(name.lower(), name), value.strip()))
    for name in _REQUIRED:
        msg.require(name)
    msg.cseq  # noqa: B018 - well-formed now, so no handler meets a bad one later
    msg.body = body[: _content_length(msg, len(body))]
    return msg


def _content_length(msg: SipMessage, available: int) -> int:
    """How much of the datagram after the headers is the body (all of it when unsaid)."""
    values = {v.strip() for n, v in msg.headers if n.lower() == "content-length"}
    if not values:
        return available
    lengths = {ascii_int(v) for v in values}
    if len(values) > 1 or None in lengths:
        raise SipParseError(f"bad Content-Length {sorted(values)!r}"[:120])
    length = lengths.pop()
    assert length is not None
    if length > available:
        raise SipParseError(f"Content-Length {length} but {available} bytes in the datagram")
    return length


def param(value: str, name: str) -> str | None:
    """A ;name=value parameter of a header value, outside any <...> uri."""
    outside = value.rsplit(">", 1)[-1] if ">" in value else value
    for item in outside.split(";")[1:]:
        key, _, val = item.partition("=")
        if key.strip().lower() == name.lower():
            return val.strip().strip('"')
    return None


@dataclass(frozen=True, slots=True)
class NameAddr:
    display: str | None
    uri: str


def parse_name_addr(value: str) -> NameAddr:
    """`"Name" <sip:u@h>;tag=x` or `sip:u@h;tag=x` -> display name and uri."""
    value = value.strip()
    if "<" in value:
        before, _, rest = value.partition("<")
        uri = rest.partition(">")[0].strip()
        display = before.strip().strip('"') or None
        return NameAddr(display, uri)
    return NameAddr(None, value.split(";", 1)[0].strip())


def uri_user(uri: str) -> str | None:
    """The user part of a sip:/sips:/tel: uri (the phone number or extension)."""
    scheme, colon, rest = uri.partition(":")
    if not colon:
        return None
    if scheme.lower() == "tel":
        return rest.split(";", 1)[0] or None
    userinfo, at, _ = rest.partition("@")
    if not at:
        return None
    return userinfo.split(":", 1)[0].split(";", 1)[0] or None


def uri_hostport(uri: str) -> tuple[str, int | None]:
    """Host and port of a sip: uri (port None if absent)."""
    rest = uri.partition(":")[2]
    hostpart = rest.rpartition("@")[2].split(";", 1)[0].split("?", 1)[0]
    host, colon, port = hostpart.partition(":")
    number = ascii_int(port, 5) if colon else None
    return host, (number if number is not None and number <= 65535 else None)


def make_response(
    request: SipMessage, status: int, reason: str, to_tag: str | None = None
) -> SipMessage:
    """A response echoing Via/From/To/Call-ID/CSeq (RFC 3261 §8.2.6.2)."""
    resp = SipMessage(status=status, reason=reason)
    for name, value in request.headers:
        lname = name.lower()
        if lname in ("via", "from", "call-id", "cseq", "record-route"):
            resp.add(name, value)
        elif lname == "to":
            if to_tag and param(value, "tag") is None:
                value = f"{value};tag={to_tag}"
            resp.add(name, value)
    return resp
