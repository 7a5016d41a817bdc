"""RFC 4235/6665 dialog-event subscriptions, one per extension, kept alive.

Each extension has a task that subscribes, refreshes before expiry and re-subscribes with
exponential backoff + jitter when the PBX refuses, times out or ends the subscription.
A probe refreshes one subscription every `probe_interval`: a PBX that restarted answers
481 (it lost its watchers), and then every extension re-subscribes at once (spread by
jitter) instead of staying silent until its own refresh is due.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog

from connectors.sip.config import SipConfig
from connectors.sip.dialoginfo import (
    CallChange,
    DialogInfoError,
    DialogTracker,
    parse_dialog_info,
)
from connectors.sip.message import (
    SipMessage,
    ascii_int,
    new_branch,
    new_token,
    param,
    parse_name_addr,
)
from connectors.sip.transport import Address, SipTransport, SipTransportError
from samtek.health import HealthReporter
from samtek.plugin import AuthFailed

log = structlog.get_logger("samtek.sip.subscription")

ChangeHandler = Callable[[str, list[CallChange], DialogTracker], Awaitable[None]]
_MAX_PARALLEL_SUBSCRIBES = 20  # bound the burst after a PBX restart
_UNSUBSCRIBE_WAIT = 5.0
_EXPLAIN = {
    403: "the PBX does not allow SAMTEK to watch this extension (see deploy/telephony.md)",
    404: "no such extension on the PBX",
    489: "the PBX offers no 'dialog' event package (RFC 4235): enable dialog presence",
}


class SubscriptionFailed(Exception):
    pass


@dataclass
class Subscription:
    extension: str
    aor: str
    tracker: DialogTracker = field(default_factory=DialogTracker)
    call_id: str = ""
    from_tag: str = ""
    to_tag: str | None = None
    cseq: int = 0
    remote_target: str | None = None
    route_set: list[str] = field(default_factory=list)
    expires_at: float = 0.0
    active: bool = False
    expires: int = 0  # requested expiry; raised by a 423 Min-Expires
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Set when the subscription must be started afresh (terminated, 481, PBX restart);
    # with an error when that should wait for the backoff (the PBX refused it).
    restart: bool = False
    restart_error: str | None = None
    stopping: bool = False  # we unsubscribed: a terminating NOTIFY is expected


def backoff(attempt: int, initial: float, maximum: float) -> float:
    """Full-jitter exponential backoff (AWS architecture blog)."""
    return random.uniform(initial / 2, min(maximum, initial * 2**attempt))


class SubscriptionManager:
    def __init__(
        self,
        transport: SipTransport,
        config: SipConfig,
        health: HealthReporter,
        on_changes: ChangeHandler,
        contact: str,
    ) -> None:
        self.transport = transport
        self.config = config
        self.health = health
        self.on_changes = on_changes
        self.contact = contact
        self.subs: dict[str, Subscription] = {}
        self._by_call_id: dict[str, Subscription] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._leaving: set[asyncio.Task[None]] = set()  # unsubscribes of removed extensions
        self._limit = asyncio.Semaphore(_MAX_PARALLEL_SUBSCRIBES)
        # Fails with AuthFailed when retrying cannot help; the connector re-raises it.
        self.fatal: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def subscribed(self) -> dict[str, str]:
        """Extension -> Call-ID of its currently active subscription."""
        return {ext: s.call_id for ext, s in self.subs.items() if s.active}

    # --- lifecycle -------------------------------------------------------------------

    def set_extensions(self, extensions: set[str]) -> None:
        """Start tasks for new extensions, stop (and unsubscribe) removed ones."""
        for ext in extensions - self.subs.keys():
            sub = Subscription(ext, f"sip:{ext}@{self.config.aor_domain}")
            self.subs[ext] = sub
            self._tasks[ext] = asyncio.create_task(self._maintain(sub), name=f"sip-sub-{ext}")
        for ext in self.subs.keys() - extensions:
            self._tasks.pop(ext).cancel()
            self.health.item_ok(ext)
            sub = self.subs.pop(ext)
            self._by_call_id.pop(sub.call_id, None)
            if sub.active:
                task = asyncio.create_task(self._unsubscribe(sub))
                self._leaving.add(task)
                task.add_done_callback(self._left)

    def _left(self, task: asyncio.Task[None]) -> None:
        self._leaving.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("unsubscribe of removed extension failed", error=str(task.exception()))

    async def probe_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.probe_interval)
            await self.probe()

    async def probe(self) -> None:
        """Refresh one active subscription; a 481 means the PBX forgot every watcher."""
        candidates = [s for s in self.subs.values() if s.active and not s.restart]
        if not candidates:
            return
        sub = random.choice(candidates)
        try:
            resp = await self._send_subscribe(sub, sub.expires)
        except SipTransportError as exc:
            self.health.item_error("pbx", f"probe refresh of {sub.extension} failed: {exc}")
            return
        if resp.status == 481:
            log.warning(
                "pbx lost subscriptions (restart?); re-subscribing all", probed=sub.extension
            )
            for other in self.subs.values():
                self._request_restart(other)
        elif resp.status is not None and 200 <= resp.status < 300:
            self._granted(sub, resp)
            self.health.item_ok("pbx")
            self.health.success()
        else:
            self._request_restart(sub)

    async def stop(self) -> None:
        """Cancel the tasks and unsubscribe (Expires: 0), bounded by one transaction time."""
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._tasks.clear()
        active = [s for s in self.subs.values() if s.active]
        try:
            # Parallel and bounded: a dead PBX must not hold up shutdown for Timer F.
            async with asyncio.timeout(_UNSUBSCRIBE_WAIT):
                results = await asyncio.gather(
                    *(self._unsubscribe(s) for s in active), return_exceptions=True
                )
        except TimeoutError:
            log.warning("unsubscribe unanswered at shutdown", pending=len(active))
            return
        for sub, result in zip(active, results, strict=True):
            if isinstance(result, BaseException):
                log.warning("unsubscribe failed", extension=sub.extension, error=str(result))

    # --- per-extension task ----------------------------------------------------------

    async def _maintain(self, sub: Subscription) -> None:
        attempt = 0
        while True:
            started = time.monotonic()
            try:
                async with self._limit:
                    await self._subscribe(sub)
                self.health.item_ok(sub.extension)
                self.health.success()
                await self._keep_refreshed(sub)
            except (SipTransportError, SubscriptionFailed) as exc:
                sub.active = False
                if time.monotonic() - started > self.config.retry_max:
                    attempt = 0  # it worked for a good while: not one long outage
                self.health.item_error(sub.extension, str(exc))
                delay = backoff(attempt, self.config.retry_initial, self.config.retry_max)
                attempt += 1
                log.info(
                    "subscription retry scheduled",
                    extension=sub.extension,
                    delay=round(delay, 2),
                    error=str(exc),
                )
                await asyncio.sleep(delay)
            except AuthFailed:
                return
            except _Restart:
                # Spread a mass re-subscribe (after a PBX restart) over up to retry_initial.
                await asyncio.sleep(random.uniform(0, self.config.retry_initial))

    async def _keep_refreshed(self, sub: Subscription) -> None:
        while True:
            remaining = sub.expires_at - time.monotonic()
            # Refresh at 70-90 % of the granted time (jitter spreads the refreshes of
            # extensions subscribed together), at least 5 s before it runs out.
            wait = max(0.0, min(remaining * random.uniform(0.7, 0.9), remaining - 5))
            if not sub.restart:  # a restart requested while subscribing must not be lost
                sub.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(sub.wake.wait(), timeout=wait)
            if sub.restart and sub.restart_error:
                raise SubscriptionFailed(sub.restart_error)
            if sub.restart:
                raise _Restart
            resp = await self._send_subscribe(sub, sub.expires)
            if resp.status is not None and 200 <= resp.status < 300:
                self._granted(sub, resp)
            else:
                raise SubscriptionFailed(
                    f"refresh of {sub.aor} answered {resp.status} {resp.reason}"
                )

    async def _subscribe(self, sub: Subscription) -> None:
        self._by_call_id.pop(sub.call_id, None)
        sub.call_id, sub.from_tag, sub.to_tag = new_token(12), new_token(4), None
        sub.cseq, sub.remote_target, sub.route_set = 0, None, []
        sub.restart, sub.restart_error, sub.active, sub.stopping = False, None, False, False
        sub.tracker.reset_version()
        # Registered before sending: the first NOTIFY may overtake the 2xx.
        self._by_call_id[sub.call_id] = sub
        sub.expires = max(sub.expires, self.config.subscription_expires)
        resp = await self._send_subscribe(sub, sub.expires)
        status = resp.status or 0
        min_expires = ascii_int(resp.get("Min-Expires"))
        if status == 423 and min_expires is not None:
            sub.expires = min_expires  # Interval Too Brief (RFC 6665 §4.2.1.4)
            raise SubscriptionFailed(f"SUBSCRIBE {sub.aor}: PBX wants Expires >= {sub.expires}")
        if status in (401, 407):
            error = AuthFailed(
                f"PBX refused SAMTEK's credentials for SUBSCRIBE {sub.aor}: "
                f"{status} {resp.reason} (set or fix auth_username/auth_password)"
            )
            if not self.fatal.done():
                self.fatal.set_exception(error)
            raise error
        if not 200 <= status < 300:
            why = _EXPLAIN.get(status, "")
            raise SubscriptionFailed(
                f"SUBSCRIBE {sub.aor} refused: {status} {resp.reason}" + (f": {why}" if why else "")
            )
        sub.to_tag = sub.to_tag or param(resp.require("To"), "tag")
        contact = resp.get("Contact")
        if contact:
            sub.remote_target = parse_name_addr(contact).uri
        sub.route_set = list(reversed(resp.get_all("Record-Route")))
        self._granted(sub, resp)
        sub.active = True
        log.debug("subscribed", extension=sub.extension, expires=resp.get("Expires"))

    def _granted(self, sub: Subscription, resp: SipMessage) -> None:
        expires = ascii_int(resp.get("Expires"))
        granted = expires if expires is not None else sub.expires
        sub.expires_at = time.monotonic() + granted

    async def _unsubscribe(self, sub: Subscription) -> None:
        sub.active, sub.stopping = False, True
        async with self._limit:
            resp = await self._send_subscribe(sub, 0)
        log.info("unsubscribed", extension=sub.extension, status=resp.status)

    async def _send_subscribe(self, sub: Subscription, expires: int) -> SipMessage:
        sub.cseq += 1
        msg = SipMessage(method="SUBSCRIBE", uri=sub.remote_target or sub.aor)
        msg.add("Via", self.transport.via(new_branch()))
        for route in sub.route_set:
            msg.add("Route", route)
        msg.add("Max-Forwards", "70")
        msg.add(
            "From",
            f'"{self.config.display_name}" <sip:{self.config.user}@'
            f"{self.config.aor_domain}>;tag={sub.from_tag}",
        )
        msg.add("To", f"<{sub.aor}>" + (f";tag={sub.to_tag}" if sub.to_tag else ""))
        msg.add("Call-ID", sub.call_id)
        msg.add("CSeq", f"{sub.cseq} SUBSCRIBE")
        msg.add("Contact", self.contact)
        msg.add("Event", "dialog")
        msg.add("Accept", "application/dialog-info+xml")
        msg.add("Expires", str(expires))
        resp = await self.transport.request(msg)
        sub.cseq = max(sub.cseq, msg.cseq[0])  # an answered challenge raised it
        return resp

    def _request_restart(self, sub: Subscription, error: str | None = None) -> None:
        sub.restart, sub.restart_error = True, error
        sub.wake.set()

    # --- incoming NOTIFY -------------------------------------------------------------

    async def handle_notify(self, msg: SipMessage, addr: Address) -> bool:
        """Answer and process a dialog-event NOTIFY; False if it is not ours."""
        sub = self._by_call_id.get(msg.call_id)
        if sub is None:
            return False
        self.transport.respond(msg, addr, 200, "OK")
        async with sub.lock:
            if sub.call_id != msg.call_id:
                return True  # the subscription was restarted meanwhile
            sub.to_tag = sub.to_tag or param(msg.require("From"), "tag")
            contact = msg.get("Contact")
            if contact:
                sub.remote_target = parse_name_addr(contact).uri
            state = (msg.get("Subscription-State") or "active").strip()
            try:
                info = parse_dialog_info(msg.body)
            except DialogInfoError as exc:
                self.health.item_error(sub.extension, f"bad NOTIFY body: {exc}")
                return True
            changes = sub.tracker.apply(info)
            await self.on_changes(sub.extension, changes, sub.tracker)
            if state.lower().startswith("terminated"):
                reason = (param(state, "reason") or "").lower()
                log.info("subscription terminated by pbx", extension=sub.extension, reason=reason)
                if not sub.stopping:
                    # RFC 6665 §4.1.3: deactivated/timeout invite an immediate re-subscribe;
                    # rejected, noresource, probation, giveup... mean wait (backoff).
                    immediate = reason in ("deactivated", "timeout")
                    self._request_restart(
                        sub,
                        None
                        if immediate
                        else f"PBX ended the subscription ({reason or 'no reason'})",
                    )
        return True


class _Restart(Exception):
    """Internal: start the subscription afresh now."""
