"""Every outgoing stanza made legal XML 1.0 and bounded, in one place (an output filter).

Texts in stanzas come from hostile places: meeting subjects (Exchange sends `&#x1B;` and
`&#x1A;`; Graph JSON can carry U+0007, U+000B and lone surrogates), names from directories,
OOF notes, room names, assistant answers. slixmpp writes them unchecked, and one character
XML 1.0 forbids makes the server close the whole component stream with `not-well-formed`
(RFC 6120 §4.9.3.13). A very long text can exceed the server's stanza size limit, which
closes the stream too. So the link runs every stanza through `clean_stanza` before writing.
"""

from __future__ import annotations

import re
from xml.etree import ElementTree as ET

# XML 1.0 §2.2 Char, minus the C1 controls (legal, but never meant as text and shown as junk).
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
ELLIPSIS = "…"
MAX_TEXT = 8000  # characters of one element's text (a long assistant answer fits)
MAX_STATUS = 500  # a presence status line (RFC 6121 §4.7.2.2: human-readable, short)
MAX_ATTRIBUTE = 4096  # a full JID is at most 3071 bytes (RFC 7622 §3.1): never cut one


def xml_text(text: str, limit: int = MAX_TEXT) -> str:
    """`text` with characters XML 1.0 forbids removed, cut to `limit` characters."""
    clean = _ILLEGAL.sub("", text)
    if len(clean) > limit:
        clean = clean[: limit - len(ELLIPSIS)].rstrip() + ELLIPSIS
    return clean


def clean_element(element: ET.Element) -> ET.Element:
    """Clean `element` and all it contains in place (texts, tails, attribute values)."""
    for node in element.iter():
        local = node.tag.rsplit("}", 1)[-1] if isinstance(node.tag, str) else ""
        limit = MAX_STATUS if local == "status" else MAX_TEXT
        if node.text:
            node.text = xml_text(node.text, limit)
        if node.tail:
            node.tail = xml_text(node.tail, limit)
        for name, value in node.attrib.items():
            node.attrib[name] = xml_text(value, MAX_ATTRIBUTE)
    return element
