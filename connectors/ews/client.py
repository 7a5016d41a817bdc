"""Async facade over exchangelib (which is synchronous: requests + threads).

Every call runs in a bounded thread pool, behind a semaphore (no unbounded executor queue)
and a shared pause gate. exchangelib is configured FailFast so that throttling, retries and
401s are handled here, asynchronously: ErrorServerBusy pauses all workers for the server's
BackOffMilliseconds, transient errors back off exponentially with jitter, and a 401 becomes
`AuthFailed` at once (under FaultTolerance exchangelib would retry it as "busy" for hours).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any, TypeVar

import requests
import structlog
from exchangelib import (
    BASIC,
    IMPERSONATION,
    NTLM,
    Account,
    Build,
    CalendarItem,
    Configuration,
    Credentials,
    EWSDateTime,
    EWSTimeZone,
    FailFast,
    Version,
)
from exchangelib.errors import (
    ErrorExpiredSubscription,
    ErrorInternalServerError,
    ErrorInternalServerTransientError,
    ErrorInvalidSubscription,
    ErrorInvalidWatermark,
    ErrorServerBusy,
    ErrorSubscriptionNotFound,
    ErrorTimeoutExpired,
    ErrorTooManyObjectsOpened,
    MalformedResponseError,
    RateLimitError,
    SOAPError,
    TransportError,
    UnauthorizedError,
)
from exchangelib.folders import Calendar, DistinguishedFolderId, FolderCollection, Root
from exchangelib.properties import (
    DaylightTime,
    FreeBusyView,
    FreeBusyViewOptions,
    Mailbox,
    MailboxData,
    StandardTime,
    TimeZone,
)
from exchangelib.properties import TimeWindow as EwsTimeWindow
from exchangelib.services import GetEvents, GetUserAvailability, SubscribeToPull
from exchangelib.settings import OofSettings

from connectors.ews.config import EwsConfig
from connectors.ews.mapping import FIELDS
from samtek.calendar import CalendarError
from samtek.plugin import AuthFailed
from samtek.runtime.backoff import Backoff
from samtek.runtime.throttle import PauseGate

T = TypeVar("T")
log = structlog.get_logger("samtek.connectors.ews")

# EWS answers at most 100 mailboxes per GetUserAvailability request.
FREE_BUSY_CHUNK = 100
SUBSCRIPTION_LOST = (
    ErrorSubscriptionNotFound,
    ErrorExpiredSubscription,
    ErrorInvalidSubscription,
    ErrorInvalidWatermark,
)
_TRANSIENT = (
    ErrorInternalServerTransientError,
    ErrorInternalServerError,
    ErrorTimeoutExpired,
    ErrorTooManyObjectsOpened,
    SOAPError,
    MalformedResponseError,
    RateLimitError,
    requests.RequestException,
)
_CALENDAR_EVENTS = ("CreatedEvent", "ModifiedEvent", "DeletedEvent", "MovedEvent", "CopiedEvent")


class SubscriptionLost(Exception):
    """The server no longer knows the subscription or watermark: resubscribe and re-read."""


@dataclass(frozen=True)
class Subscription:
    subscription_id: str
    watermark: str


def _utc_timezone() -> TimeZone:
    """The availability TimeZone for UTC, built locally (saves a GetServerTimeZones round trip)."""
    rule = {"bias": 0, "time": time(0, 0), "occurrence": 1, "iso_month": 1, "weekday": 7}
    return TimeZone(bias=0, standard_time=StandardTime(**rule), daylight_time=DaylightTime(**rule))


class EwsClient:
    def __init__(self, config: EwsConfig) -> None:
        self.config = config
        self.gate = PauseGate()
        self.requests_retried = 0
        self._pool: ThreadPoolExecutor | None = None  # made on use: run() may be restarted
        self._slots = asyncio.Semaphore(config.max_concurrency)
        self._ews_config = Configuration(
            service_endpoint=str(config.url),
            credentials=Credentials(config.username, config.password.get_secret_value()),
            auth_type=BASIC if config.auth_type == "basic" else NTLM,
            version=Version(build=Build(*config.server_build)),
            retry_policy=FailFast(),
            max_connections=config.max_concurrency,
        )
        self._accounts: dict[str, tuple[Account, Calendar]] = {}

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        if self._accounts:  # one protocol (session pool) is shared by all accounts
            account, _ = next(iter(self._accounts.values()))
            account.protocol.close()

    # -- plumbing ---------------------------------------------------------------------------
    def _mailbox(self, address: str, timezone: str | None = None) -> tuple[Account, Calendar]:
        """Account + calendar folder built locally: no GetFolder round trip per mailbox
        (exchangelib serialises the first `account.calendar` across all accounts).

        The account's default zone is the mailbox owner's: exchangelib falls back to it for
        naive times and all-day items in a custom zone, and would otherwise use the host's."""
        key = address.lower()
        if key in self._accounts:
            account = self._accounts[key][0]
            if timezone is not None and account.default_timezone.key != timezone:
                account.default_timezone = EWSTimeZone(timezone)
        else:
            account = Account(
                primary_smtp_address=address,
                config=self._ews_config,
                autodiscover=False,
                access_type=IMPERSONATION,
                default_timezone=EWSTimeZone(timezone or "UTC"),
            )
            account.protocol.TIMEOUT = self.config.request_timeout_seconds
            root = Root(account=account)
            folder_id = DistinguishedFolderId(id="calendar", mailbox=Mailbox(email_address=address))
            calendar = Calendar(root=root, _distinguished_id=folder_id)
            self._accounts[key] = (account, calendar)
        return self._accounts[key]

    async def call(self, what: str, fn: Callable[..., T], *args: Any, idempotent: bool = True) -> T:
        """Run one exchangelib call with throttling, retries and error translation.

        ServerBusy is always retried (the server refused before doing anything); other
        transient errors only for idempotent calls (a CreateItem may have gone through).
        """
        loop = asyncio.get_running_loop()
        attempt = 0
        backoff = self._backoff()
        while True:
            await self.gate.wait()
            try:
                async with self._slots:
                    return await loop.run_in_executor(self._executor(), fn, *args)
            except UnauthorizedError as e:
                raise AuthFailed(
                    f"EWS refused the credentials of {self.config.username!r} ({what}): {e}"
                ) from e
            except SUBSCRIPTION_LOST as e:
                raise SubscriptionLost(f"{what}: {type(e).__name__}: {e}") from e
            except ErrorServerBusy as e:
                # exchangelib also raises "busy" for closed connections and re-raised transient
                # errors, with its own fixed 10 s guess; only a server-sent
                # BackOffMilliseconds is taken literally. The pause holds every worker.
                told = e.back_off if not str(e).startswith("Reraised from") else None
                delay = told or backoff.next_delay()
                self.gate.pause(delay)
                log.info("EWS asked us to back off", what=what, seconds=delay, error=str(e))
                failure: Exception = e
            except _TRANSIENT as e:
                if not idempotent:
                    raise CalendarError(
                        f"EWS {what} failed and is not retried (it may have "
                        f"been carried out): {type(e).__name__}: {e}"
                    ) from e
                delay = backoff.next_delay()
                log.info("EWS transient error, retrying", what=what, error=repr(e), seconds=delay)
                failure = e
            except TransportError as e:
                # Other response errors (no such mailbox, access denied) will not heal by retrying.
                raise CalendarError(f"EWS {what} failed: {type(e).__name__}: {e}") from e
            if attempt >= self.config.max_retries:
                raise CalendarError(
                    f"EWS {what} failed after {attempt + 1} attempts: "
                    f"{type(failure).__name__}: {failure}"
                ) from failure
            attempt += 1
            self.requests_retried += 1
            if not isinstance(failure, ErrorServerBusy):
                await asyncio.sleep(delay)

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.config.max_concurrency, thread_name_prefix="ews")
        return self._pool

    def _backoff(self) -> Backoff:
        cfg = self.config
        return Backoff(initial=cfg.retry_base_seconds, maximum=cfg.retry_max_seconds)

    # -- operations (each returns plain data, parsed in the worker thread) ------------------
    async def check_credentials(self, address: str) -> None:
        await self.call(f"credential check via {address}", self._oof_sync, address)

    async def calendar_view(
        self, address: str, start: datetime, end: datetime, timezone: str
    ) -> list[Any]:
        return await self.call(
            f"calendar view of {address}", self._view_sync, address, start, end, timezone
        )

    def _view_sync(self, address: str, start: datetime, end: datetime, timezone: str) -> list[Any]:
        _, calendar = self._mailbox(address, timezone)
        items = list(calendar.view(start=start, end=end).only(*FIELDS))
        errors = [i for i in items if isinstance(i, Exception)]
        if errors:
            raise errors[0]
        return items

    async def oof(self, address: str) -> OofSettings:
        return await self.call(f"automatic replies of {address}", self._oof_sync, address)

    def _oof_sync(self, address: str) -> OofSettings:
        account, _ = self._mailbox(address)
        return account.oof_settings

    async def subscribe(self, address: str, timeout_minutes: int) -> Subscription:
        return await self.call(
            f"pull subscription for {address}", self._subscribe_sync, address, timeout_minutes
        )

    def _subscribe_sync(self, address: str, timeout_minutes: int) -> Subscription:
        _, calendar = self._mailbox(address)
        sub_id, watermark = FolderCollection(
            account=calendar.account, folders=[calendar]
        ).subscribe_to_pull(event_types=SubscribeToPull.EVENT_TYPES, timeout=timeout_minutes)
        return Subscription(sub_id, watermark)

    async def poll(self, address: str, sub: Subscription) -> tuple[bool, Subscription]:
        """(calendar changed?, subscription with the newest watermark)."""
        return await self.call(f"GetEvents for {address}", self._poll_sync, address, sub)

    def _poll_sync(self, address: str, sub: Subscription) -> tuple[bool, Subscription]:
        account, _ = self._mailbox(address)
        service = GetEvents(account=account)
        changed, watermark = False, sub.watermark
        while True:
            notification = service.get(subscription_id=sub.subscription_id, watermark=watermark)
            for event in notification.events:
                changed = changed or type(event).__name__ in _CALENDAR_EVENTS
                watermark = getattr(event, "watermark", None) or watermark
            if not notification.more_events:
                return changed, Subscription(sub.subscription_id, watermark)

    async def free_busy_chunk(
        self, addresses: Sequence[str], start: datetime, end: datetime
    ) -> list[FreeBusyView | Exception]:
        if len(addresses) > FREE_BUSY_CHUNK:
            raise ValueError(f"EWS takes at most {FREE_BUSY_CHUNK} mailboxes per request")
        return await self.call(
            f"free/busy of {len(addresses)} mailboxes",
            self._free_busy_sync,
            list(addresses),
            start,
            end,
        )

    def _free_busy_sync(
        self, addresses: list[str], start: datetime, end: datetime
    ) -> list[FreeBusyView | Exception]:
        account, _ = self._mailbox(addresses[0])
        service = GetUserAvailability(account.protocol)
        utc = EWSTimeZone("UTC")
        start = EWSDateTime.from_datetime(start).astimezone(utc)
        end = EWSDateTime.from_datetime(end).astimezone(utc)
        return list(
            service.call(
                tzinfo=utc,
                mailbox_data=[
                    MailboxData(email=a, attendee_type="Required", exclude_conflicts=False)
                    for a in addresses
                ],
                timezone=_utc_timezone(),
                free_busy_view_options=FreeBusyViewOptions(
                    time_window=EwsTimeWindow(start=start, end=end),
                    merged_free_busy_interval=30,
                    requested_view="FreeBusy",
                ),
            )
        )

    async def create(self, organiser: str, build: Callable[[Account], CalendarItem]) -> str:
        return await self.call(
            f"create meeting for {organiser}", self._create_sync, organiser, build, idempotent=False
        )

    def _create_sync(self, organiser: str, build: Callable[[Account], CalendarItem]) -> str:
        account, calendar = self._mailbox(organiser)
        item = build(account)
        item.folder = calendar
        item.save(send_meeting_invitations="SendToAllAndSaveCopy")
        return str(item.uid)
