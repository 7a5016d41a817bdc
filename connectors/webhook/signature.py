"""HMAC-SHA256 request signatures: `sha256=<hex>` over "<timestamp>.<raw body>".

The timestamp is inside the signed text, so it cannot be moved forward to dodge the age check.
"""

from __future__ import annotations

import hashlib
import hmac

PREFIX = "sha256="


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256)
    return PREFIX + mac.hexdigest()


def valid(secret: bytes, timestamp: str, body: bytes, signature: str) -> bool:
    # Constant-time: a timing side channel must not reveal how much of a forgery matched.
    return hmac.compare_digest(sign(secret, timestamp, body).encode(), signature.encode())
