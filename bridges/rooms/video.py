"""Jitsi Meet links: one per room, and a signed JWT per member when an app id/secret is set.

The token follows Jitsi's token authentication (prosody mod_auth_token): HS256 with the
shared app secret, `iss` = app id, `aud` = "jitsi", `sub` = the meeting host, `room` = room.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import quote, urlparse

import jwt

from bridges.rooms.settings import RoomsSection
from samtek.clock import SYSTEM_CLOCK, Clock, to_server_time


class VideoLinks:
    def __init__(self, settings: RoomsSection, clock: Clock = SYSTEM_CLOCK) -> None:
        self._clock = clock
        self.base = settings.jitsi_base_url.rstrip("/")
        self.app_id = settings.jitsi_app_id
        self.secret = settings.jitsi_secret
        self.lifetime = timedelta(hours=settings.jitsi_token_hours)

    @property
    def signed(self) -> bool:
        return self.app_id is not None and self.secret is not None

    def room_url(self, room_id: str) -> str:
        return f"{self.base}/{quote(room_id)}"

    def member_token(
        self, room_id: str, jid: str, name: str, now: datetime | None = None
    ) -> str | None:
        if self.app_id is None or self.secret is None:
            return None
        now = now or to_server_time(self._clock, self._clock.now())  # Jitsi checks nbf/exp
        claims = {
            "iss": self.app_id,
            "aud": "jitsi",
            "sub": urlparse(self.base).hostname or "*",
            "room": room_id,
            "nbf": int(now.timestamp()) - 60,  # tolerate small clock skew
            "exp": int((now + self.lifetime).timestamp()),
            "context": {"user": {"id": jid, "name": name}},
        }
        return jwt.encode(claims, self.secret.get_secret_value(), algorithm="HS256")

    def member_url(self, room_id: str, jid: str, name: str) -> str:
        token = self.member_token(room_id, jid, name)
        url = self.room_url(room_id)
        return f"{url}?jwt={token}" if token else url
