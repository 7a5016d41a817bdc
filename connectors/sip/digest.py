"""HTTP Digest authentication for SIP requests (RFC 3261 §22, RFC 2617, RFC 8760).

PBXs that do not trust SAMTEK's address challenge its SUBSCRIBE/INVITE with 401/407;
the transport answers once per request with these credentials.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')
_HASHES = {"MD5": "md5", "SHA-256": "sha256", "SHA-512-256": "sha512_256"}


class DigestError(ValueError):
    """A challenge we cannot answer (unknown algorithm or qop)."""


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str


def parse_challenge(value: str) -> dict[str, str]:
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "digest":
        raise DigestError(f"unsupported auth scheme {scheme!r}")
    return {
        m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
        for m in _PARAM.finditer(rest)
    }


def authorization(challenge: dict[str, str], creds: Credentials, method: str, uri: str) -> str:
    """The Authorization/Proxy-Authorization value answering `challenge`."""
    algorithm = challenge.get("algorithm", "MD5")
    base, sess = algorithm.upper().removesuffix("-SESS"), algorithm.upper().endswith("-SESS")
    if base not in _HASHES:
        raise DigestError(f"unsupported digest algorithm {algorithm!r}")

    def h(text: str) -> str:
        return hashlib.new(_HASHES[base], text.encode()).hexdigest()

    realm, nonce = challenge.get("realm", ""), challenge.get("nonce", "")
    cnonce, nc = secrets.token_hex(8), "00000001"
    ha1 = h(f"{creds.username}:{realm}:{creds.password}")
    if sess:
        ha1 = h(f"{ha1}:{nonce}:{cnonce}")
    ha2 = h(f"{method}:{uri}")
    qops = [q.strip() for q in challenge.get("qop", "").split(",") if q.strip()]
    parts = [
        f'username="{creds.username}"',
        f'realm="{realm}"',
        f'nonce="{nonce}"',
        f'uri="{uri}"',
        f"algorithm={algorithm}",
    ]
    if qops:
        if "auth" not in qops:
            raise DigestError(f"unsupported qop {challenge['qop']!r} (only auth)")
        response = h(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
        parts += ["qop=auth", f"nc={nc}", f'cnonce="{cnonce}"']
    else:
        response = h(f"{ha1}:{nonce}:{ha2}")
    parts.append(f'response="{response}"')
    if "opaque" in challenge:
        parts.append(f'opaque="{challenge["opaque"]}"')
    return "Digest " + ", ".join(parts)
