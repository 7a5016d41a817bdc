"""Teams presence of the Graph fake, with session aggregation as Microsoft documents it.

A user's presence is aggregated from sessions: each Teams client has one (set by tests with
`set_client`) and an application can have its own (`setPresence` with the app's id as
sessionId; it expires after `expirationDuration`, PT5M..PT4H, default 5 minutes).
User-configured (`setUserPreferredPresence`) overrides all sessions; among the others
DoNotDisturb > Busy > Available > Away. `getPresencesByUserId` takes at most 650 ids.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from samtek.clock import SYSTEM_CLOCK, Clock
from tests.fakes.graph import render

Reply = tuple[int, dict[str, str], Any]
MAX_IDS = 650
_RANK = {"DoNotDisturb": 4, "Busy": 3, "Available": 2, "Away": 1, "BeRightBack": 1}
_DURATION = re.compile(r"^PT(?:(\d+)H)?(?:(\d+)M)?$")
# Documented setPresence combinations (availability -> allowed activities).
APP_STATES = {
    "Available": {"Available"},
    "Busy": {"InACall", "InAConferenceCall"},
    "Away": {"Away"},
}


def user_id(address: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"mailto:{address.lower()}"))


def duration(text: object) -> timedelta | None:
    match = _DURATION.match(text) if isinstance(text, str) else None
    if match is None or not any(match.groups()):
        return None
    return timedelta(hours=int(match[1] or 0), minutes=int(match[2] or 0))


@dataclass
class Session:
    availability: str
    activity: str
    expires: datetime | None = None  # None: a Teams client, there while the test says so


@dataclass
class FakePresence:
    app_id: str
    clock: Clock = SYSTEM_CLOCK
    users: dict[str, str] = field(default_factory=dict)  # object id -> address
    sessions: dict[str, dict[str, Session]] = field(default_factory=dict)  # id -> sessions
    preferred: dict[str, Session] = field(default_factory=dict)
    asked: list[int] = field(default_factory=list)  # ids per getPresencesByUserId

    def user(self, address: str) -> str:
        uid = user_id(address)
        self.users[uid] = address.lower()
        return uid

    def set_client(self, address: str, availability: str, activity: str) -> None:
        """What the person's Teams client reports (a call, presenting, ...)."""
        self.sessions.setdefault(self.user(address), {})["client"] = Session(availability, activity)

    def app_session(self, address: str) -> Session | None:
        return self._live(user_id(address)).get(self.app_id)

    def of(self, address: str) -> dict[str, str]:
        return self.aggregate(self.user(address))

    def aggregate(self, uid: str) -> dict[str, str]:
        now = self.clock.now()
        preferred = self.preferred.get(uid)
        if preferred is not None and (preferred.expires is None or preferred.expires > now):
            return _render(uid, preferred)
        live = list(self._live(uid).values())
        if not live:
            known = uid in self.users
            return _render(uid, Session("Offline" if known else "PresenceUnknown", "Offline"))
        return _render(uid, max(live, key=lambda s: _RANK.get(s.availability, 0)))

    def _live(self, uid: str) -> dict[str, Session]:
        now = self.clock.now()
        sessions = self.sessions.get(uid, {})
        for key in [k for k, s in sessions.items() if s.expires is not None and s.expires <= now]:
            del sessions[key]  # expired: the session is gone
        return sessions

    # -- the API -----------------------------------------------------------------------------
    def get_many(self, body: Any) -> Reply:
        ids = body.get("ids") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not ids or len(ids) > MAX_IDS:
            return 400, {}, render.error("BadRequest", f"Between 1 and {MAX_IDS} ids.")
        self.asked.append(len(ids))
        return 200, {}, {"value": [self.aggregate(str(i)) for i in ids]}

    def set_presence(self, uid: str, body: Any) -> Reply:
        if not isinstance(body, dict) or body.get("sessionId") != self.app_id:
            return 400, {}, render.error("BadRequest", "sessionId must be the application's id.")
        availability, activity = body.get("availability"), body.get("activity")
        if activity not in APP_STATES.get(str(availability), set()):
            return 400, {}, render.error("BadRequest", "Unsupported availability/activity.")
        lasting = duration(body.get("expirationDuration", "PT5M"))
        if lasting is None or not timedelta(minutes=5) <= lasting <= timedelta(hours=4):
            return 400, {}, render.error("BadRequest", "expirationDuration: PT5M to PT4H.")
        session = Session(str(availability), str(activity), self.clock.now() + lasting)
        self.sessions.setdefault(uid, {})[self.app_id] = session
        return 200, {}, None

    def clear_presence(self, uid: str, body: Any) -> Reply:
        if not isinstance(body, dict) or body.get("sessionId") != self.app_id:
            return 400, {}, render.error("BadRequest", "sessionId must be the application's id.")
        self.sessions.get(uid, {}).pop(self.app_id, None)
        return 200, {}, None

    def set_preferred(self, uid: str, body: Any) -> Reply:
        if not isinstance(body, dict) or not isinstance(body.get("availability"), str):
            return 400, {}, render.error("BadRequest", "availability is required.")
        lasting = duration(body.get("expirationDuration"))
        expires = self.clock.now() + lasting if lasting else None
        activity = str(body.get("activity") or body["availability"])
        self.preferred[uid] = Session(body["availability"], activity, expires)
        return 200, {}, None

    def clear_preferred(self, uid: str) -> Reply:
        self.preferred.pop(uid, None)
        return 200, {}, None


def _render(uid: str, session: Session) -> dict[str, str]:
    return {"id": uid, "availability": session.availability, "activity": session.activity}
