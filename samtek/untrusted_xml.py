"""Parsing XML from the network (SIP NOTIFY bodies, CalDAV answers): defusedxml, no DTD at all.

No protocol SAMTEK speaks needs a DTD, and a DTD is where entity expansion ("billion laughs")
and external entities live; defusedxml refuses it after decoding, so in any encoding (a byte
search for "<!DOCTYPE" misses UTF-16).
"""

from __future__ import annotations

from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as DefusedET
from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden


class UntrustedXmlError(ValueError):
    """Not well-formed, or a document we refuse to process (DTD, entities)."""


def parse_untrusted(body: bytes) -> Element:
    try:
        root: Element = DefusedET.fromstring(body, forbid_dtd=True)
    except DTDForbidden:
        raise UntrustedXmlError("XML with a DTD refused (entity expansion risk)") from None
    except (EntitiesForbidden, ExternalReferenceForbidden):
        raise UntrustedXmlError("XML with entity declarations refused") from None
    except ParseError as exc:
        raise UntrustedXmlError(f"not well-formed XML: {exc}") from None
    return root
