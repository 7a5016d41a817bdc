"""Operator sessions: random tokens in a cookie, kept server-side with an expiry.

Only a hash of each token is kept, so the store leaks nothing usable. Every session has its
own CSRF token that the page sends back in a header on every POST. The number of sessions is
bounded: the one that expires first is dropped to make room.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from samtek.clock import Clock

COOKIE = "samtek_switchboard"


@dataclass(frozen=True, slots=True)
class Session:
    username: str
    person_id: str
    csrf: str
    expires: datetime


class Sessions:
    def __init__(self, clock: Clock, lifetime: timedelta, max_sessions: int) -> None:
        self._clock = clock
        self._lifetime = lifetime
        self._max = max_sessions
        self._by_hash: dict[str, Session] = {}

    def __len__(self) -> int:
        return len(self._by_hash)

    def create(self, username: str, person_id: str) -> tuple[str, Session]:
        """A new session; returns the token for the cookie (not kept) and the session."""
        self._prune()
        while len(self._by_hash) >= self._max:
            oldest = min(self._by_hash, key=lambda h: self._by_hash[h].expires)
            del self._by_hash[oldest]
        token = secrets.token_urlsafe(32)
        session = Session(
            username, person_id, secrets.token_urlsafe(24), self._clock.now() + self._lifetime
        )
        self._by_hash[_hash(token)] = session
        return token, session

    def get(self, token: str | None) -> Session | None:
        if not token or len(token) > 128:
            return None
        key = _hash(token)
        session = self._by_hash.get(key)
        if session is None:
            return None
        if session.expires <= self._clock.now():
            del self._by_hash[key]
            return None
        return session

    def end(self, token: str | None) -> Session | None:
        if not token or len(token) > 128:
            return None
        return self._by_hash.pop(_hash(token), None)

    def end_user(self, username: str) -> int:
        """Log a person out everywhere (the role was taken away)."""
        gone = [h for h, s in self._by_hash.items() if s.username == username]
        for key in gone:
            del self._by_hash[key]
        return len(gone)

    def usernames(self) -> set[str]:
        return {s.username for s in self._by_hash.values()}

    def _prune(self) -> None:
        now = self._clock.now()
        for key in [h for h, s in self._by_hash.items() if s.expires <= now]:
            del self._by_hash[key]


def csrf_ok(session: Session, sent: str | None) -> bool:
    return sent is not None and hmac.compare_digest(session.csrf.encode(), sent.encode())


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
