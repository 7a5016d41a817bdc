"""Teams presence -> presence claims (`PresenceClaimsUpdate`), by bounded polling.

`POST /communications/getPresencesByUserId` takes at most 650 user object ids per request
and 1,500 requests per 30 s per app and tenant: 10,000 people are 16 requests a round.
Object ids come from `GET /users/{address}?$select=id` (JSON batches of 20, once per run).

Only what SAMTEK cannot know otherwise becomes a claim (by Teams `activity`):

| activity | claim | why |
|---|---|---|
| Presenting | PRESENTING | sharing the screen in a meeting |
| InACall, InAConferenceCall | ON_PHONE | a Teams call is a call |
| InAMeeting | IN_MEETING | also ad hoc meetings that are in no calendar |
| DoNotDisturb, UrgentInterruptionsOnly | PHONE_DND | the person asked not to be disturbed |

A claim starts when the activity was first seen (stable, so a manual status dismisses that
one transition) and lasts a short horizon that each round extends; if polling stops, it
lapses by itself. Its end is quantized so that re-asserting it re-sends nothing most rounds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import structlog

from connectors.graph.config import GraphConfig
from connectors.graph.http import BATCH_LIMIT, GraphError, GraphHttp
from samtek.bus import Bus
from samtek.calendar import CalendarError
from samtek.events import PresenceClaimsUpdate
from samtek.health import HealthReporter
from samtek.model import ClaimKind, ClaimSource, Person, PresenceClaim, Show

if TYPE_CHECKING:
    from connectors.graph.teams_write import TeamsWriter

log = structlog.get_logger("samtek.connectors.graph")
IDS_PER_REQUEST = 650  # getPresencesByUserId limit
TEAMS_ITEM = "teams presence"
_QUANTUM = timedelta(minutes=5)
ACTIVITY: dict[str, ClaimKind] = {
    "Presenting": ClaimKind.PRESENTING,
    "InACall": ClaimKind.ON_PHONE,
    "InAConferenceCall": ClaimKind.ON_PHONE,
    "InAMeeting": ClaimKind.IN_MEETING,
    "DoNotDisturb": ClaimKind.PHONE_DND,
    "UrgentInterruptionsOnly": ClaimKind.PHONE_DND,
}


def teams_kind(presence: Any) -> ClaimKind | None:
    activity = presence.get("activity") if isinstance(presence, dict) else None
    return ACTIVITY.get(activity) if isinstance(activity, str) else None


def horizon_end(now: datetime, poll_seconds: float) -> datetime:
    """A few polling rounds ahead, on a 5-minute grid."""
    horizon = max(_QUANTUM, timedelta(seconds=3 * poll_seconds))
    epoch = datetime(2000, 1, 1, tzinfo=now.tzinfo)
    steps = -(-(now + horizon - epoch) // _QUANTUM)  # ceiling
    return epoch + steps * _QUANTUM


class TeamsPresence:
    def __init__(
        self,
        source: str,
        config: GraphConfig,
        http: GraphHttp,
        bus: Bus,
        health: HealthReporter,
        now: Callable[[], datetime],
    ) -> None:
        self.source = source
        self.cfg = config
        self.http = http
        self.bus = bus
        self.health = health
        self.now = now
        self.people: dict[str, Person] = {}  # Entra object id -> person
        self._since: dict[str, tuple[ClaimKind, datetime]] = {}  # person id -> current state
        self._published: dict[str, tuple[PresenceClaim, ...]] = {}
        self.rounds = 0
        self._asked: dict[str, float] = {}  # person id -> monotonic time its id was asked
        self.writer: TeamsWriter | None = None  # what it wrote must not come back (no loop)

    async def run(self, people: Sequence[tuple[Person, str]]) -> None:
        while True:
            try:
                if len(self.people) < len(people):
                    await self.resolve(people)
                await self.poll()
            except CalendarError as e:  # GraphError etc.; AuthFailed is not one: it stops us
                self.health.item_error(TEAMS_ITEM, str(e))
            else:
                self.health.item_ok(TEAMS_ITEM)
            await asyncio.sleep(self.cfg.presence_poll_seconds)

    async def resolve(self, people: Sequence[tuple[Person, str]]) -> None:
        """Entra object ids of the people's accounts (getPresencesByUserId wants those)."""
        known = {p.id for p in self.people.values()}
        now = time.monotonic()
        # Someone without an account is asked again only hourly, not every round.
        todo = [
            (p, a)
            for p, a in people
            if p.id not in known and now - self._asked.get(p.id, float("-inf")) >= 3600
        ]
        for p, _ in todo:
            self._asked[p.id] = now
        for i in range(0, len(todo), BATCH_LIMIT):
            chunk = todo[i : i + BATCH_LIMIT]
            calls = [
                {"id": str(n), "method": "GET", "url": f"/users/{quote(a)}?$select=id"}
                for n, (_, a) in enumerate(chunk)
            ]
            for call_id, body in (await self.http.batch(calls)).items():
                person, address = chunk[int(call_id)]
                if isinstance(body, GraphError) or not isinstance(body, dict):
                    log.info("no Entra account for Teams presence", mailbox=address)
                    continue
                if isinstance(body.get("id"), str):
                    self.people[body["id"]] = person

    async def poll(self) -> None:
        ids = list(self.people)
        seen: dict[str, ClaimKind | None] = {}
        for i in range(0, len(ids), IDS_PER_REQUEST):
            answer = await self.http.request(
                "POST",
                "/communications/getPresencesByUserId",
                json={"ids": ids[i : i + IDS_PER_REQUEST]},
            )
            for presence in answer.get("value", []) if isinstance(answer, dict) else []:
                user = presence.get("id") if isinstance(presence, dict) else None
                person = self.people.get(user) if isinstance(user, str) else None
                if person is not None:
                    seen[person.id] = self._kind(person.id, presence)
        now = self.now()
        for person_id, kind in seen.items():
            await self._publish(person_id, kind, now)
        self.rounds += 1

    def _kind(self, person_id: str, presence: dict[str, Any]) -> ClaimKind | None:
        activity = presence.get("activity")
        if self.writer is not None and self.writer.echo(
            person_id, activity if isinstance(activity, str) else None, self.now()
        ):
            return None  # SAMTEK's own call, written into Teams: not a Teams fact
        return teams_kind(presence)

    async def _publish(self, person_id: str, kind: ClaimKind | None, now: datetime) -> None:
        claims: tuple[PresenceClaim, ...] = ()
        if kind is None:
            self._since.pop(person_id, None)
        else:
            current = self._since.get(person_id)
            since = current[1] if current is not None and current[0] is kind else now
            self._since[person_id] = (kind, since)
            claims = (
                PresenceClaim(
                    person_id=person_id,
                    source=ClaimSource.TEAMS,
                    kind=kind,
                    show=Show.DND,
                    valid_from=since,
                    valid_until=horizon_end(now, self.cfg.presence_poll_seconds),
                    claim_id=f"teams:{self.source}:{kind.name}@{since.isoformat()}",
                ),
            )
        if claims != self._published.get(person_id, ()):
            self._published[person_id] = claims
            await self.bus.publish(PresenceClaimsUpdate(self.source, person_id, claims))
