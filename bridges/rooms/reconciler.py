"""Observe the MUC service, plan, apply: one reconciliation pass over all declared rooms.

Observation is read-only (disco#info for existence, then the whole owner form + affiliation
lists per room, concurrently with a bound); applying runs each room's items in order and rooms
concurrently; one room's failure is logged and reported in health without stopping the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import structlog

from bridges.rooms.invites import Inviter
from bridges.rooms.plan import (
    Action,
    ArchiveNotice,
    CreateRoom,
    Destroy,
    Invite,
    Observed,
    Phase,
    Plan,
    Reconfigure,
    SetAffiliation,
    TakeOver,
    make_plan,
    phase_of,
)
from bridges.rooms.spec import Room
from samtek.health import HealthReporter
from samtek.store import Store
from samtek.xmpp.muc import Affiliation, MucClient, RoomGone

log = structlog.get_logger("samtek.rooms")

# Rooms at once. Reads are cheap for the server: many in flight hide the round trips. Writes
# are not (each saves the room): more in flight only queue up inside Prosody until IQs time
# out (seen with 200 against the internal file store).
OBSERVE_CONCURRENCY = 200
APPLY_CONCURRENCY = 16


@dataclass
class ApplyResult:
    done: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # room -> error


class Reconciler:
    def __init__(
        self,
        muc: MucClient,
        inviter: Inviter,
        retention_days: int,
        store: Store | None = None,
        health: HealthReporter | None = None,
    ) -> None:
        self.muc = muc
        self.inviter = inviter
        self.retention_days = retention_days
        self.store = store
        self.health = health

    async def plan(self, rooms: Sequence[Room], today: date) -> Plan:
        phases = {r.jid: phase_of(r, today, self.retention_days) for r in rooms}
        observed = await self.observe(rooms, phases)
        return make_plan(rooms, observed, phases, self.muc.link.jid)

    async def observe(
        self, rooms: Sequence[Room], phases: Mapping[str, Phase]
    ) -> dict[str, Observed]:
        limit = asyncio.Semaphore(OBSERVE_CONCURRENCY)

        async def one(room: Room) -> tuple[str, Observed]:
            if phases[room.jid] is Phase.PENDING:
                return room.jid, Observed(exists=False)  # not looked at before its start
            async with limit:
                # first: an owner or admin query would create a missing room on ejabberd
                if not await self.muc.exists(room.jid):
                    return room.jid, Observed(exists=False)
                if phases[room.jid] is Phase.EXPIRED:
                    try:
                        config = await self.muc.get_config(room.jid)
                    except RoomGone:
                        return room.jid, Observed(exists=False)
                    history = await self.muc.has_history(room.jid)
                    return room.jid, Observed(True, config, {}, history)
                # both at once: one round trip per room instead of two
                try:
                    config, affiliations = await asyncio.gather(
                        self.muc.get_config(room.jid), self.muc.affiliations(room.jid)
                    )
                except RoomGone:
                    return room.jid, Observed(exists=False)
                return room.jid, Observed(True, config, affiliations)

        return dict(await asyncio.gather(*(one(r) for r in rooms)))

    async def apply(
        self, plan: Plan, progress: Callable[[int, int], None] | None = None
    ) -> ApplyResult:
        """Apply room by room; `progress(rooms done, rooms)` after each (and health shows it)."""
        by_room: dict[str, list[Action]] = {}
        for action in plan.actions:
            by_room.setdefault(action.room, []).append(action)
        limit = asyncio.Semaphore(APPLY_CONCURRENCY)
        result = ApplyResult()
        finished = 0

        def step() -> None:
            nonlocal finished
            finished += 1
            if progress is not None:
                progress(finished, len(by_room))
            if self.health:
                self.health.progress("rooms applied", finished, len(by_room))

        async def one(room: str, actions: list[Action]) -> None:
            async with limit:
                try:
                    await self._apply_room(room, actions)
                except Exception as exc:  # one room must not stop the others; reported below
                    error = f"{type(exc).__name__}: {exc}"
                    log.warning("room apply failed", room=room, error=error, exc_info=True)
                    result.failed[room] = error
                    if self.health:
                        self.health.item_error(room, error)
                    return
                finally:
                    step()
                result.done += len(actions)
                if self.health:
                    self.health.item_ok(room)

        await asyncio.gather(*(one(room, actions) for room, actions in by_room.items()))
        return result

    async def _take_over(self, action: TakeOver) -> None:
        """After the Reconfigure (the password is gone): own it, drop a planted subject.

        Reported until restart: someone created a project room's address before SAMTEK
        (possible only where the MUC lets ordinary users create rooms, deploy/prosody).
        """
        log.warning(
            "room not created by SAMTEK: taken over", room=action.room, owners=action.owners
        )
        await self.muc.set_affiliations(action.room, [Affiliation(self.muc.link.jid, "owner")])
        self.muc.clear_subject(action.room)
        if self.health:
            self.health.item_error(
                f"{action.room} (taken over)",
                f"was created by {', '.join(action.owners) or 'someone else'}, not by SAMTEK; "
                "its configuration and members were reset",
            )

    async def _apply_room(self, room: str, actions: list[Action]) -> None:
        affiliations = [a for a in actions if isinstance(a, SetAffiliation)]
        for action in actions:
            log.info("room change", change=action.describe())
            if isinstance(action, CreateRoom):
                left_out = await self.muc.create(room, action.config)
                if left_out:  # the other server's names (enablearchiving vs mam, ...)
                    log.info(
                        "room fields the server does not offer", room=room, fields=sorted(left_out)
                    )
            elif isinstance(action, TakeOver):
                await self._take_over(action)
            elif isinstance(action, Reconfigure):
                await self.muc.set_config(room, {f: new for f, _, new in action.changes})
            elif isinstance(action, ArchiveNotice):
                if self.store is None or await self.store.claim_notification(
                    f"rooms:archived:{room}"
                ):
                    await self.muc.post(room, action.text)  # before the room closes
            elif isinstance(action, Destroy):
                await self.muc.destroy(room, action.reason)
            elif isinstance(action, Invite):
                await self.inviter.invite(
                    room, action.jid, action.name, action.video, action.language
                )
            elif isinstance(action, SetAffiliation) and action is affiliations[0]:
                await self.muc.set_affiliations(
                    room, [Affiliation(a.jid, a.new) for a in affiliations]
                )
                for removed in (a for a in affiliations if a.new == "none"):
                    await self.inviter.forget(room, removed.jid)
