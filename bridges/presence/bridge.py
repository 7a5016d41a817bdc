"""The presence bridge: keeps every person's overlay right at the exact boundary instants.

- Claims arrive as bus events (calendar, out of office, phone) and replace that source's
  previous claims for the person; the last calendars and busy phones are persisted so a
  restart is right at once.
- One timer per person, at the next instant any of their claims starts or ends (loop.call_at):
  no polling. A firing timer only marks the person dirty; one applier sends what changed,
  many at a time in batch IQs, so 2,000 meetings starting in the same second go out together.
- Each person's upcoming transitions (the next `schedule_ahead_hours`) are scheduled on the
  server, which applies them at the exact instant by itself: at the boundary the bridge only
  recognises that the server already shows what it wants, and sends nothing. A calendar
  change re-plans and replaces the schedule.
- After every (re)connect to the XMPP server the bridge reconciles: it lists the server's
  overlays and schedules and sends exactly the differences (stale ones included), batched.
- A manual status change dismisses the current transition (persisted); the same transition
  is not shown again, the next one is.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

import structlog

from bridges.presence.ahead import (
    EXACT,
    check_later,
    dismissed,
    plan_ahead,
    same_plan,
    server_acts_at,
    shows_same,
)
from bridges.presence.phone import phone_claims
from bridges.presence.planner import desired_overlay
from bridges.presence.sender import OverlaySender
from bridges.telephony.phonebook import PhoneBook
from samtek.bus import Bus
from samtek.clock import SYSTEM_CLOCK, Clock
from samtek.config import PresenceSection
from samtek.events import (
    CalendarUpdate,
    ManualPresenceChange,
    OutOfOfficeUpdate,
    PeopleChanged,
    PresenceClaimsUpdate,
)
from samtek.health import HealthReporter
from samtek.model import OutOfOffice, Person, PresenceClaim
from samtek.plugin import Directory
from samtek.presence.claims import calendar_claims, oof_claims
from samtek.presence.resolver import Resolution, next_boundary, resolve
from samtek.store import Store
from samtek.store.phones import PhoneStates
from samtek.store.store import Dismissal
from samtek.telephony import DeviceState, DeviceStateUpdate
from samtek.xmpp.link import NotConnected
from samtek.xmpp.overlay import (
    ClearOp,
    Op,
    Overlay,
    OverlayRejected,
    PresenceOverlays,
    Scheduled,
    ScheduleOp,
    SetOp,
)

log = structlog.get_logger("samtek.presence")

# Several instances: how often the calendars of people served elsewhere are re-read from the
# shared store (their owner saves every change), for the read side (status, explain).
OTHERS_REFRESH_SECONDS = 15.0
JANITOR_DUTY = "rooms"  # the singleton duty whose holder also clears unknown people's overlays
SourceKey = tuple[str, str]  # (claim source kind, connector name)


class Ownership(Protocol):
    """Which people this instance serves (samtek.runtime.leases.LeaseManager)."""

    def owns(self, person_id: str) -> bool: ...

    def holds(self, duty: str) -> bool: ...


class PhoneDndPolicy(Protocol):
    """Whether a DND on the phone shows in chat (bridges.dnd: per municipality, loop guard)."""

    def shows_phone_dnd(self, person: Person, update: DeviceStateUpdate) -> bool: ...


class _OwnsEverything:
    def owns(self, person_id: str) -> bool:
        return True

    def holds(self, duty: str) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class _Decision:
    """What one person needs sent: the overlay now and/or a new schedule."""

    person_id: str
    jid: str
    send_now: bool
    wanted: Overlay | None
    schedule: tuple[Scheduled, ...] | None  # None: the server's schedule is right


class PresenceBridge:
    def __init__(
        self,
        directory: Directory,
        bus: Bus,
        store: Store,
        overlays: PresenceOverlays,
        settings: PresenceSection,
        health: HealthReporter,
        ownership: Ownership | None = None,
        clock: Clock = SYSTEM_CLOCK,
        phone_dnd: PhoneDndPolicy | None = None,
        others_refresh_seconds: float = OTHERS_REFRESH_SECONDS,
    ) -> None:
        self._directory = directory
        self._phone_dnd = phone_dnd
        self._clock = clock
        self._others_refresh = others_refresh_seconds
        self._owned_people: set[str] = set()  # as of the last partition change
        # With several instances each drives only the people of its leased partitions.
        self._ownership: Ownership = ownership or _OwnsEverything()
        self._store = store
        self._overlays = overlays
        self._grace = timedelta(seconds=settings.overlay_grace_seconds)
        self.health = health
        # Subscribe now, before connectors start, so no early update is missed.
        self._calendar_updates = bus.subscribe(CalendarUpdate)
        self._oof_updates = bus.subscribe(OutOfOfficeUpdate)
        self._manual_changes = bus.subscribe(ManualPresenceChange)
        self._device_updates = bus.subscribe(DeviceStateUpdate)
        self._claim_updates = bus.subscribe(PresenceClaimsUpdate)
        self._phonebook = PhoneBook(directory)
        self._phones = PhoneStates(store.db)
        self._claims: dict[str, dict[SourceKey, list[PresenceClaim]]] = defaultdict(dict)
        self._oof: dict[str, OutOfOffice] = {}
        self._dismissed: dict[str, Dismissal] = {}
        self._applied: dict[str, Overlay | None] = {}  # what the server shows, as far as we know
        self._shown_at: dict[str, str] = {}  # person -> JID their overlay was set on
        self._scheduled: dict[str, tuple[Scheduled, ...]] = {}  # the server's pending entries
        self._ahead = timedelta(hours=settings.schedule_ahead_hours)
        self._sender = OverlaySender(overlays, schedules=self._ahead > EXACT)
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self._synced = False  # the server's overlays were listed since the last connect
        # Set by a reconcile until the applier's next pass has sent its differences: the
        # monotonic start of the reconcile, for its "reconcile done" log line.
        self._reconciling: float | None = None
        self._reading_calendars = False  # run() has asked the store for every calendar
        self._listeners: list[Callable[[str], None]] = []

    # -- read side (chat assistant, admin API, CLI) ----------------------------------------
    def explain(self, person_id: str, at: datetime | None = None) -> Resolution | None:
        return resolve(self._all_claims(person_id), at or self._clock.now())

    def claims(self, person_id: str) -> list[PresenceClaim]:
        return self._all_claims(person_id)

    def out_of_office(self, person_id: str) -> OutOfOffice | None:
        return self._oof.get(person_id)

    def on_change(self, listener: Callable[[str], None]) -> None:
        """`listener(person_id)` whenever a person's claims change or one starts or ends."""
        self._listeners.append(listener)

    def overlaid(self) -> list[str]:
        """People whose contacts see an overlay now (as far as this instance knows)."""
        return [person_id for person_id, shown in self._applied.items() if shown is not None]

    # -- lifecycle ----------------------------------------------------------------------
    async def run(self) -> None:
        started = time.monotonic()
        now = self._clock.now()
        self._dismissed = await self._store.load_dismissals(now)
        self._reading_calendars = True
        calendars = await self._store.load_calendars()
        self._load_calendars(calendars, lambda _update: True)
        for phone in await self._phones.load():
            person = self._phonebook.person_for(phone.extension)
            if person is not None:
                self._set_phone(person, phone)
        for person_id in self._claims:
            self._mark(person_id)
        log.info(
            "presence state loaded",
            calendars=len(calendars),
            people=len(self._claims),
            seconds=round(time.monotonic() - started, 3),
        )
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._consume_calendars())
                group.create_task(self._consume_oof())
                group.create_task(self._consume_manual())
                group.create_task(self._consume_phones())
                group.create_task(self._consume_claims())
                group.create_task(self._apply_forever())
                group.create_task(self._refresh_others())
        finally:
            for timer in self._timers.values():
                timer.cancel()
            self._timers.clear()

    async def on_xmpp_ready(self) -> None:
        """Reconcile with the server after every (re)connect (also after its restart).

        Done (logged as "reconcile done") when the applier's next pass has compared every
        person's plan with what the server listed and the server answered what differed."""
        started = time.monotonic()
        state = await self._overlays.list()
        log.info(
            "overlays listed",
            overlays=len(state.overlays),
            scheduled=len(state.scheduled),
            dismissed=len(state.dismissed),
            seconds=round(time.monotonic() - started, 3),
        )
        now = self._clock.now()
        self._applied, self._scheduled, self._shown_at = {}, {}, {}
        stale: list[Op] = []
        for jid in state.overlays.keys() | state.scheduled.keys():
            person = self._directory.by_jid(jid)
            if person is None:
                # One instance cleans up for everyone (the holder of the singleton duty).
                if self._ownership.holds(JANITOR_DUTY):
                    log.warning("clearing overlay of unknown person", jid=jid)
                    stale.append(ClearOp(jid))
                    if jid in state.scheduled:
                        stale.append(ScheduleOp(jid, ()))
                continue
            if jid in state.overlays:
                self._applied[person.id] = state.overlays[jid]
            self._scheduled[person.id] = state.scheduled.get(jid, ())
            self._shown_at[person.id] = person.jid
        if stale:
            for result in await self._sender.send(stale):
                if isinstance(result, OverlayRejected):
                    log.warning("stale overlay not cleared", error=str(result))
        for jid, (transition, until) in state.dismissed.items():
            person = self._directory.by_jid(jid)
            if person is not None and until > now:
                await self._remember_dismissal(Dismissal(person.id, transition, until))
        self._synced = True
        self._reconciling = started
        for person_id in set(self._directory.people()) | set(self._applied):
            self._dirty.add(person_id)
        self._wake.set()
        self.health.success()

    async def on_partitions_gained(self, _partitions: frozenset[int]) -> None:
        """Taking over people (another instance died or left): take their last calendars
        from the shared store (their previous instance saved them; our connectors read them
        anew from now on), then reconcile and assert them."""

        owned = {p for p in self._directory.people() if self._ownership.owns(p)}
        gained, self._owned_people = owned - self._owned_people, owned
        # At start the partitions come before run() reads every stored calendar, which is
        # then at least as recent as reading them here: once is enough (10,000 people).
        if self._reading_calendars:
            self._load_calendars(
                await self._store.load_calendars(), lambda update: update.person_id in gained
            )
        if self._synced:
            await self.on_xmpp_ready()

    def on_partitions_lost(self, _partitions: frozenset[int]) -> None:
        """People now served elsewhere: their new owner clears their overlay if they leave;
        their claims stay, refreshed from the store for the read side."""
        self._owned_people = {p for p in self._directory.people() if self._ownership.owns(p)}
        for person_id in [p for p in self._shown_at if not self._ownership.owns(p)]:
            del self._shown_at[person_id]

    async def _refresh_others(self) -> None:
        """With several instances, keep the calendars of people served elsewhere as their
        owner stored them, so "status" and explain answer for everyone on every instance.
        Alone (every person owned), this reads nothing."""
        while True:
            await asyncio.sleep(self._others_refresh)
            people = self._directory.people()
            if all(self._ownership.owns(p) for p in people):
                continue
            try:
                updates = await self._store.load_calendars()
            except self._store.db.errors as exc:  # the next round tries again
                log.warning("could not refresh other instances' calendars", error=repr(exc))
                continue
            self._load_calendars(updates, lambda u: not self._ownership.owns(u.person_id))

    def on_directory_changed(self, change: PeopleChanged) -> None:
        """People added, removed or changed: drop what no longer applies and re-plan them.
        A person who left loses every claim (`_apply` clears their overlay); a person
        whose calendar moved to another source loses the old source's claims."""
        for person_id in change.removed:
            self._claims.pop(person_id, None)
            self._oof.pop(person_id, None)
        for person_id in change.changed:
            person = self._directory.person(person_id)
            stale = [
                key
                for key in self._claims.get(person_id, {})
                if key[0] in ("calendar", "oof") and not _serves(person, key[1])
            ]
            for key in stale:
                self._set_claims(person_id, key, [])
                if key[0] == "oof":
                    self._oof.pop(person_id, None)
        for person_id in change.added | change.removed | change.changed:
            self._mark(person_id)

    def _load_calendars(
        self, updates: list[CalendarUpdate], wanted: Callable[[CalendarUpdate], bool]
    ) -> None:
        for update in updates:
            person = self._directory.person(update.person_id)
            if wanted(update) and _serves(person, update.source):
                self._set_claims(
                    update.person_id,
                    ("calendar", update.source),
                    calendar_claims(update.person_id, update.events),
                )
                self._mark(update.person_id)

    # -- consumers ------------------------------------------------------------------------
    async def _consume_calendars(self) -> None:
        async for update in self._calendar_updates:
            claims = calendar_claims(update.person_id, update.events)
            self._set_claims(update.person_id, ("calendar", update.source), claims)
            self._mark(update.person_id)
            person = self._directory.people().get(update.person_id)
            if person is not None:  # not for someone who just left the directory
                await self._store.save_calendar(update, keep_subject=person.show_subject)

    async def _consume_oof(self) -> None:
        async for update in self._oof_updates:
            self._oof[update.person_id] = update.oof
            self._set_claims(
                update.person_id, ("oof", update.source), oof_claims(update.person_id, update.oof)
            )
            self._mark(update.person_id)

    async def _consume_phones(self) -> None:
        async for update in self._device_updates:
            person = self._phonebook.person_for(update.extension)
            if person is None:
                log.debug("device state of an unknown extension", extension=update.extension)
            elif self._set_phone(person, update):
                self._mark(person.id)
                await self._phones.save(update)

    async def _consume_claims(self) -> None:
        async for update in self._claim_updates:
            claims = [c for c in update.claims if c.person_id == update.person_id]
            self._set_claims(update.person_id, ("claims", update.source), claims)
            self._mark(update.person_id)

    def _set_phone(self, person: Person, update: DeviceStateUpdate) -> bool:
        """Replace the extension's claim; False if the same state was only re-reported."""
        person_id = person.id
        if self._phone_dnd is not None and not self._phone_dnd.shows_phone_dnd(person, update):
            update = replace(update, state=DeviceState.IDLE)  # a DND not to show: no claim
        # Keyed per extension: a desk phone going idle must not clear the mobile's call.
        key = ("phone", f"{update.source}/{update.extension}")
        claims = phone_claims(person_id, update)
        current = self._claims.get(person_id, {}).get(key)
        if (
            claims
            and current
            and current[0].kind == claims[0].kind
            and current[0].valid_until > update.at
        ):
            return False  # a reconnect or restart re-reports it: keep its transition
        self._set_claims(person_id, key, claims)
        return True

    async def _consume_manual(self) -> None:
        async for change in self._manual_changes:
            person = self._directory.by_jid(change.jid)
            if person is None:
                continue
            overlay = self._applied.get(person.id)
            until = overlay.until if overlay else self._clock.now() + timedelta(hours=12)
            log.info("manual status wins", person=person.id, show=change.show.value)
            await self._remember_dismissal(Dismissal(person.id, change.dismissed_transition, until))
            self._applied[person.id] = None  # the server already removed it

    # -- planning and applying ------------------------------------------------------------
    def _set_claims(self, person_id: str, key: SourceKey, claims: list[PresenceClaim]) -> None:
        if claims:
            self._claims[person_id][key] = claims
        else:
            self._claims[person_id].pop(key, None)

    def _all_claims(self, person_id: str) -> list[PresenceClaim]:
        return [c for claims in self._claims.get(person_id, {}).values() for c in claims]

    def _mark(self, person_id: str) -> None:
        self._dirty.add(person_id)
        self._wake.set()
        for listener in self._listeners:
            listener(person_id)

    def _schedule(
        self,
        person_id: str,
        after: datetime,
        refresh: datetime | None = None,
        planned: tuple[Scheduled, ...] = (),
        shown: Overlay | None = None,
    ) -> None:
        timer = self._timers.pop(person_id, None)
        if timer is not None:
            timer.cancel()
        boundary = next_boundary(self._all_claims(person_id), after)
        if refresh is not None and refresh > after:
            boundary = refresh if boundary is None else min(boundary, refresh)
        if boundary is None:
            return
        loop = asyncio.get_running_loop()
        delay = (boundary - self._clock.now()).total_seconds()
        if server_acts_at(boundary, planned, shown):
            # The server starts or ends it by itself: check it (and plan on) a little later,
            # spread out, so that at the boundary only the server works.
            delay += check_later(person_id)
        self._timers[person_id] = loop.call_at(loop.time() + max(delay, 0), self._mark, person_id)

    async def _apply_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._dirty = self._dirty, set()
            reconciling, self._reconciling = self._reconciling, None
            for person_id in batch:
                shown_at = self._shown_at.get(person_id)
                person = self._directory.person(person_id)
                if shown_at is not None and (person is None or person.jid != shown_at):
                    await self._clear_departed(person_id, shown_at)  # left, or another JID
            now = self._clock.now()
            decisions = [d for person_id in batch if (d := self._decide(person_id, now))]
            if decisions:
                await self._send(decisions)
            if reconciling is not None and self._synced:
                log.info(
                    "reconcile done",
                    people=len(batch),
                    verified=len(batch) - len(decisions),
                    sent=len(decisions),
                    seconds=round(time.monotonic() - reconciling, 3),
                )

    def _decide(self, person_id: str, now: datetime) -> _Decision | None:
        """What to send for this person now (None: the server already shows and schedules
        what we want, e.g. it applied a scheduled entry at this very boundary)."""
        person = self._directory.person(person_id)
        claims = self._all_claims(person_id)
        if person is None or not self._synced or not self._ownership.owns(person_id):
            # Keep the timers: if this person's partition comes to us, we are on time.
            self._schedule(person_id, now)
            self._applied.pop(person_id, None)  # its owner decides what the server shows
            self._scheduled.pop(person_id, None)
            return None
        wanted = desired_overlay(person, claims, now, self._grace)
        dismissal = self._dismissed.get(person_id)
        if dismissed(wanted, dismissal, now):
            wanted = None  # the person's own status wins for this transition
        current = self._server_shows(person_id, now, dismissal)
        plan, beyond = plan_ahead(person, claims, now, dismissal, self._horizon())
        # A capped overlay (phone) ends before its claim does: wake up to extend it; a
        # transition beyond the horizon: wake up to schedule it.
        refresh = [t for t in (wanted.until - self._grace if wanted else None, beyond) if t]
        send_now = not shows_same(wanted, current, self._grace)
        pending = tuple(e for e in self._scheduled.get(person_id, ()) if e.start > now)
        schedule = None if same_plan(plan, pending) else plan
        shown = wanted if send_now else current
        self._schedule(person_id, now, min(refresh) if refresh else None, plan, shown)
        if not send_now and schedule is None:
            return None
        return _Decision(person_id, person.jid, send_now, wanted, schedule)

    def _server_shows(
        self, person_id: str, now: datetime, dismissal: Dismissal | None
    ) -> Overlay | None:
        """What the server shows now, by its own timers: expiry at `until`, and the latest
        scheduled entry whose start has come (unless she dismissed its transition)."""
        current = self._applied.get(person_id)
        if current is not None and current.until <= now:
            current = None
        entries = self._scheduled.get(person_id, ())
        due = [e for e in entries if e.start <= now]
        if due:
            self._scheduled[person_id] = entries[len(due) :]
            last = due[-1].overlay
            if last.until > now and not dismissed(last, dismissal, now):
                current = last
        self._applied[person_id] = current
        return current

    async def _send(self, decisions: list[_Decision]) -> None:
        ops: list[Op] = []
        for d in decisions:
            if d.send_now:
                ops.append(ClearOp(d.jid) if d.wanted is None else SetOp(d.jid, d.wanted))
            if d.schedule is not None:
                ops.append(ScheduleOp(d.jid, d.schedule))
        try:
            results = iter(await self._sender.send(ops))
        except NotConnected:
            self._synced = False  # reconcile on the next connect
            return
        except OverlayRejected as exc:  # the whole IQ: nothing is known to be applied
            for d in decisions:
                self.health.item_error(d.person_id, str(exc))
            return
        for d in decisions:
            failed = ""
            if d.send_now:
                result = next(results)
                if isinstance(result, OverlayRejected):
                    failed = str(result)
                else:
                    wanted = d.wanted
                    if result == "dismissed" and wanted is not None:
                        await self._remember_dismissal(
                            Dismissal(d.person_id, wanted.transition, wanted.until)
                        )
                        wanted = None
                    self._applied[d.person_id] = wanted
                    if wanted is not None:
                        self._shown_at[d.person_id] = d.jid
            if d.schedule is not None:
                result = next(results)
                if isinstance(result, OverlayRejected):
                    failed = failed or str(result)
                    # Not scheduled: our own timer must be on time at the next boundary.
                    self._schedule(d.person_id, self._clock.now())
                else:
                    self._scheduled[d.person_id] = d.schedule
                    if d.schedule:
                        self._shown_at[d.person_id] = d.jid
            if failed:
                self.health.item_error(d.person_id, failed)
            else:
                self.health.item_ok(d.person_id)

    def _horizon(self) -> timedelta:
        """How far ahead to schedule: EXACT (nothing) once the server turned out not to."""
        return self._ahead if self._sender.schedules else EXACT

    async def _clear_departed(self, person_id: str, jid: str) -> None:
        """Clear the overlay (and any schedule) we set on `jid` for someone who left the
        directory or whose JID changed (only while their partition is ours; else its owner
        does it)."""
        if not self._synced or not self._ownership.owns(person_id):
            return
        ops: list[Op] = [ClearOp(jid)]
        if self._scheduled.get(person_id):
            ops.append(ScheduleOp(jid, ()))
        try:
            results = await self._sender.send(ops)
        except NotConnected:
            self._synced = False  # the reconcile after the next connect clears it
            return
        except OverlayRejected as exc:
            self.health.item_error(person_id, str(exc))
            return
        refused = [r for r in results if isinstance(r, OverlayRejected)]
        if refused:
            self.health.item_error(person_id, str(refused[0]))
            return
        log.info("overlay cleared: person left the directory or changed JID", person=person_id)
        self._shown_at.pop(person_id, None)
        self._applied.pop(person_id, None)
        self._scheduled.pop(person_id, None)

    async def _remember_dismissal(self, dismissal: Dismissal) -> None:
        self._dismissed[dismissal.person_id] = dismissal
        await self._store.put_dismissal(dismissal)


def _serves(person: Person | None, source: str) -> bool:
    """Whether `source` (a connector name) still reads one of the person's calendars."""
    return person is not None and any(ref.source == source for ref in person.calendars)
