"""The Asterisk ARI connector: call and device state from ARI events, click-to-call, DND,
blind transfer.

One WebSocket (GET /events?app=<app>) per connection; after it opens, the app subscribes to
`endpoint:<tech>/<ext>` (channel events of each phone) and `deviceState:<tech>/<ext>`, reads
the current device states and DND flags, and ends calls whose ChannelDestroyed was missed
while disconnected. A lost connection is retried with capped, jittered backoff; refused
credentials stop the connector (AuthFailed) until an admin fixes them.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import uuid
from typing import Any
from urllib.parse import quote

import aiohttp
import structlog

from connectors.ari.calls import DEVICE_STATES, Change, ChannelTracker
from connectors.ari.config import AriConfig
from connectors.ari.rest import AriError, AriRest
from samtek.plugin import AuthFailed, Connector, ConnectorContext
from samtek.runtime.backoff import Backoff
from samtek.telephony import (
    CallEvent,
    DeviceState,
    DeviceStateUpdate,
    NotSupportedByPbx,
    TelephonyError,
)

log = structlog.get_logger("samtek.ari")

# Extensions end up in URLs, endpoint names and AstDB keys.
_EXTENSION = re.compile(r"^[0-9A-Za-z+*#._-]{1,32}$")
_MAX_PARALLEL_ORIGINATES = 50
_OWN_PREFIX = "samtek-"  # channel ids of our click-to-call legs
_BATCH = 50  # extensions per subscription request
_PARALLEL_REQUESTS = 8  # state reads in flight after a (re)connect
_DND_ON = {"BUSY", "INUSE", "RINGINUSE", "ONHOLD"}  # a DND device state meaning "on"


class ConnectionLost(Exception):
    pass


class AriConnector(Connector):
    config_model = AriConfig

    def __init__(self, config: AriConfig, ctx: ConnectorContext) -> None:
        super().__init__(config, ctx)
        self.config: AriConfig = config
        self._rest: AriRest | None = None
        self._tracker = ChannelTracker(config.technology)
        self._subscribed: set[str] = set()
        self._raw: dict[str, DeviceState] = {}  # what Asterisk says about the device
        self._dnd: dict[str, bool] = {}
        self._published: dict[str, DeviceState] = {}
        self._originating: dict[str, asyncio.Future[str]] = {}
        self.connected = asyncio.Event()

    # --- lifecycle -------------------------------------------------------------------

    async def run(self) -> None:
        cfg = self.config
        backoff = Backoff(cfg.retry_initial, cfg.retry_max)
        credentials = f"{cfg.username}:{cfg.password.get_secret_value()}".encode()
        auth = {"Authorization": "Basic " + base64.b64encode(credentials).decode("ascii")}
        async with aiohttp.ClientSession(headers=auth) as session:
            self._rest = AriRest(session, cfg.url, cfg.request_timeout)
            try:
                while True:
                    try:
                        await self._connection(session, backoff)
                    except (AriError, ConnectionLost, aiohttp.ClientError, TimeoutError) as exc:
                        delay = backoff.next_delay()
                        self.ctx.health.item_error("ari", f"{exc}; retry in {delay:.1f} s")
                        log.warning("ari connection failed", error=str(exc), retry_in=delay)
                        await asyncio.sleep(delay)
            finally:
                self.connected.clear()
                self._rest = None
                for waiter in self._originating.values():
                    if not waiter.done():
                        waiter.set_exception(TelephonyError("ARI connector stopped"))

    async def _connection(self, session: aiohttp.ClientSession, backoff: Backoff) -> None:
        cfg = self.config
        url = f"{cfg.url.rstrip('/')}/events"
        try:
            ws = await session.ws_connect(
                url, params={"app": cfg.app}, heartbeat=cfg.heartbeat, autoping=True
            )
        except aiohttp.WSServerHandshakeError as exc:
            if exc.status == 401:
                raise AuthFailed(f"ARI refused the credentials of {cfg.username!r}") from exc
            raise
        async with ws:
            self._subscribed.clear()
            seen = self.ctx.served.version  # later directory changes: the poller follows
            await self._follow_directory_once()
            await self._resync()
            self.connected.set()
            backoff.reset()
            self.ctx.health.item_ok("ari")
            self.ctx.health.success()
            log.info("ari connected", url=url, app=cfg.app, phones=len(self._subscribed))
            poller = asyncio.create_task(self._follow_directory(seen))
            try:
                async for msg in ws:
                    if msg.type is aiohttp.WSMsgType.TEXT:
                        await self._on_event(msg.data)
                    elif msg.type in (aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSED):
                        break
            finally:
                poller.cancel()
                self.connected.clear()
        raise ConnectionLost(f"ARI event socket closed ({ws.close_code or 'no code'})")

    async def _follow_directory(self, seen: int) -> None:
        while True:  # at once on a directory change; directory_poll is the fallback
            seen = await self.ctx.served.wait(seen, self.config.directory_poll)
            try:
                for ext in await self._follow_directory_once():
                    await self._read_states(ext)
                    await self._publish_device(ext)
            except AriError as exc:
                log.warning("ari subscription of new phones failed", error=str(exc))

    async def _follow_directory_once(self) -> list[str]:
        """Subscribe new people's phones, unsubscribe removed ones; returns the new ones."""
        wanted = self.extensions()
        self._tracker.extensions = wanted
        new = sorted(wanted - self._subscribed)
        gone = sorted(self._subscribed - wanted)
        path = f"/applications/{quote(self.config.app, safe='')}/subscription"
        # Batches keep each request line short (Asterisk's HTTP server limits its length).
        for batch in _batches(new):
            await self._call("POST", path, eventSource=self._sources(batch))
            self._subscribed.update(batch)
        for batch in _batches(gone):
            try:
                await self._call("DELETE", path, eventSource=self._sources(batch))
            except AriError as exc:
                log.warning("ari unsubscribe failed", extensions=batch, error=str(exc))
            self._subscribed.difference_update(batch)
        for ext in gone:
            self._raw.pop(ext, None)
            self._dnd.pop(ext, None)
            self._published.pop(ext, None)
        return new

    def _sources(self, extensions: list[str]) -> str:
        tech = self.config.technology
        sources = []
        for ext in extensions:
            sources += [f"endpoint:{tech}/{ext}", f"deviceState:{tech}/{ext}"]
            if self._dnd_device(ext):
                sources.append(f"deviceState:{self._dnd_device(ext)}")
        return ",".join(sources)

    def _dnd_device(self, ext: str) -> str | None:
        pattern = self.config.dnd_device
        return pattern.replace("{extension}", ext) if pattern else None

    async def _resync(self) -> None:
        """Current device states and DND flags; end calls that ended while we were away."""
        limit = asyncio.Semaphore(_PARALLEL_REQUESTS)

        async def read(ext: str) -> None:
            async with limit:
                await self._read_states(ext)

        await asyncio.gather(*(read(ext) for ext in sorted(self._subscribed)))
        channels = await self._call("GET", "/channels") or []
        alive = {str(c.get("id")) for c in channels}
        await self._publish_calls(self._tracker.forget_missing(alive))
        for channel in channels:
            await self._publish_calls(self._tracker.update(channel))
        for ext in sorted(self._subscribed):
            await self._publish_device(ext)

    async def _read_states(self, ext: str) -> None:
        self._raw[ext] = await self._read_device(ext)
        if self.config.dnd == "astdb":
            self._dnd[ext] = await self._read_dnd(ext)

    async def _read_device(self, ext: str) -> DeviceState:
        name = quote(f"{self.config.technology}/{ext}", safe="")
        try:
            state = await self._call("GET", f"/deviceStates/{name}")
        except AriError as exc:
            if exc.status != 404:
                raise
            return DeviceState.UNAVAILABLE  # no such device (yet): not registered
        return DEVICE_STATES.get(str((state or {}).get("state")), DeviceState.UNAVAILABLE)

    def extensions(self) -> set[str]:
        found: set[str] = set()
        for person in self.ctx.directory.people().values():
            for phone in person.phones:
                ext = re.sub(r"[\s()/-]", "", phone)
                if _EXTENSION.match(ext):
                    found.add(ext)
                else:
                    self.ctx.health.item_error(f"phone {phone!r}", "not usable as ARI extension")
        return found

    # --- events ----------------------------------------------------------------------

    async def _on_event(self, data: str) -> None:
        try:
            event = json.loads(data)
        except json.JSONDecodeError as exc:
            log.warning("ari event is not JSON", error=str(exc), data=data[:200])
            return
        kind = event.get("type")
        if kind == "DeviceStateChanged":
            device = event.get("device_state") or {}
            name = str(device.get("name", ""))
            ext = self._tracker.extension_of(name)
            dnd_of = self._dnd_devices().get(name)
            if dnd_of is not None:
                self._dnd[dnd_of] = device.get("state") in _DND_ON
                await self._publish_device(dnd_of)
            elif ext is not None:
                state = DEVICE_STATES.get(str(device.get("state")), DeviceState.UNAVAILABLE)
                self._raw[ext] = state
                await self._publish_device(ext)
        elif kind == "ChannelDestroyed" and isinstance(event.get("channel"), dict):
            channel = event["channel"]
            self._originate_result(channel, destroyed=True, cause=event.get("cause_txt"))
            await self._publish_calls(self._tracker.destroy(channel))
        elif isinstance(event.get("channel"), dict):
            # ChannelCreated, ChannelStateChange, StasisStart, ChannelConnectedLine, ...
            channel = event["channel"]
            self._originate_result(channel, destroyed=False)
            await self._publish_calls(self._tracker.update(channel))

    def _dnd_devices(self) -> dict[str, str]:
        """DND device name -> extension (empty without `dnd_device`)."""
        if not self.config.dnd_device:
            return {}
        return {self._dnd_device(ext) or "": ext for ext in self._subscribed}

    async def _publish_calls(self, changes: list[Change]) -> None:
        now = self.ctx.clock.now()
        for change in changes:
            leg = change.leg
            if leg.channel_id.startswith(_OWN_PREFIX):
                continue  # our own click-to-call leg ringing the caller: not a call to report
            await self.ctx.bus.publish(
                CallEvent(
                    source=self.name,
                    call_id=leg.channel_id,
                    extension=leg.extension,
                    direction=leg.direction,
                    state=change.state,
                    remote_number=leg.remote_number,
                    remote_name=leg.remote_name,
                    at=now,
                )
            )

    async def _publish_device(self, ext: str) -> None:
        state = DeviceState.DND if self._dnd.get(ext) else self._raw.get(ext, DeviceState.IDLE)
        if self._published.get(ext) is not state:
            self._published[ext] = state
            now = self.ctx.clock.now()
            await self.ctx.bus.publish(DeviceStateUpdate(self.name, ext, state, now))

    # --- Telephony -------------------------------------------------------------------

    async def originate(self, from_ext: str, to_ext: str) -> str:
        for ext in (from_ext, to_ext):
            if not _EXTENSION.match(ext):
                raise TelephonyError(f"{ext!r} is not a valid extension")
        if not self.connected.is_set():
            raise TelephonyError(f"ARI connector {self.name} is not connected")
        if len(self._originating) >= _MAX_PARALLEL_ORIGINATES:
            raise TelephonyError("too many click-to-call requests in progress")
        cfg = self.config
        # Our own channel id, known before any event about it can arrive.
        channel_id = f"{_OWN_PREFIX}{uuid.uuid4().hex}"
        answered: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._originating[channel_id] = answered
        try:
            await self._call(
                "POST",
                "/channels",
                endpoint=f"{cfg.technology}/{from_ext}",
                extension=to_ext,
                context=cfg.context,
                priority="1",
                callerId=f'"{cfg.caller_id_name}" <{to_ext}>',
                timeout=str(cfg.originate_answer_timeout),
                channelId=channel_id,
            )
            async with asyncio.timeout(cfg.originate_answer_timeout + 5):
                return await answered
        except TimeoutError:
            raise TelephonyError(f"{from_ext} did not answer in time") from None
        except AriError as exc:
            raise TelephonyError(
                f"Asterisk refused the call {from_ext} -> {to_ext}: {exc}"
            ) from exc
        finally:
            del self._originating[channel_id]

    def _originate_result(
        self, channel: dict[str, Any], destroyed: bool, cause: object = None
    ) -> None:
        waiter = self._originating.get(str(channel.get("id")))
        if waiter is None or waiter.done():
            return
        if channel.get("state") == "Up":
            waiter.set_result(str(channel["id"]))
        elif destroyed:
            waiter.set_exception(TelephonyError(f"the phone did not answer ({cause or 'hung up'})"))

    async def transfer(self, extension: str, target: str) -> str:
        """Blind transfer of `extension`'s answered call to `target`, by the ARI REST API.

        The other channel in the operator's bridge (GET /bridges) continues in the dialplan at
        `target` in `context` (POST /channels/{id}/continue), as a transfer made by Asterisk
        itself: no REFER reaches the caller's phone or trunk. Then the operator's channel is
        hung up. ARI controls only channels in a Stasis application: for a call bridged by
        dialplan Dial() Asterisk answers 409, reported as such.
        """
        for ext in (extension, target):
            if not _EXTENSION.match(ext):
                raise TelephonyError(f"{ext!r} is not a valid extension")
        if not self.connected.is_set():
            raise TelephonyError(f"ARI connector {self.name} is not connected")
        answered = [
            leg.channel_id
            for leg in self._tracker.legs.values()
            if leg.extension == extension and leg.answered
        ]
        if not answered:
            raise TelephonyError(f"{extension} is in no answered call")
        own = answered[-1]  # the latest: the call the operator just took
        try:
            bridges = await self._call("GET", "/bridges")
            members = [
                [str(c) for c in b["channels"]]
                for b in (bridges if isinstance(bridges, list) else [])
                if isinstance(b, dict) and isinstance(b.get("channels"), list)
            ]
            bridge = next((m for m in members if own in m), None)
            if bridge is None:
                raise TelephonyError(f"the call of {extension} is in no bridge")
            others = [c for c in bridge if c != own]
            if len(others) != 1:
                raise TelephonyError(
                    f"the call of {extension} has {len(others)} other parties, not one"
                )
            await self._call(
                "POST",
                f"/channels/{quote(others[0], safe='')}/continue",
                context=self.config.context,
                extension=target,
                priority="1",
            )
        except AriError as exc:
            if exc.status == 409:
                raise TelephonyError(
                    f"Asterisk lets ARI move only calls in a Stasis application; the call of "
                    f"{extension} is not in {self.config.app!r}"
                ) from exc
            raise TelephonyError(f"Asterisk refused the transfer to {target}: {exc}") from exc
        try:
            await self._call("DELETE", f"/channels/{quote(own, safe='')}", reason="normal")
        except AriError as exc:
            # The caller is on the way to the target already; the operator can hang up.
            log.warning("ari hangup of the operator's leg failed", channel=own, error=str(exc))
        log.info("ari transfer", extension=extension, target=target, channel=others[0])
        return others[0]

    async def set_dnd(self, ext: str, on: bool) -> None:
        if self.config.dnd == "none":
            raise NotSupportedByPbx(f"DND is not switched through ARI on {self.name} (dnd = none)")
        if not _EXTENSION.match(ext):
            raise TelephonyError(f"{ext!r} is not a valid extension")
        try:
            # Setting a dialplan function through the global-variable resource writes AstDB.
            await self._call(
                "POST",
                "/asterisk/variable",
                variable=f"DB({self.config.dnd_family}/{ext})",
                value="YES" if on else "",
            )
            device = self._dnd_device(ext)
            if device:
                await self._call(
                    "POST",
                    "/asterisk/variable",
                    variable=f"DEVICE_STATE({device})",
                    value="BUSY" if on else "NOT_INUSE",
                )
        except AriError as exc:
            raise TelephonyError(f"could not switch DND of {ext}: {exc}") from exc
        self._dnd[ext] = on
        await self._publish_device(ext)

    async def _read_dnd(self, ext: str) -> bool:
        try:
            result = await self._call(
                "GET", "/asterisk/variable", variable=f"DB({self.config.dnd_family}/{ext})"
            )
        except AriError as exc:
            if exc.status in (400, 404):
                return False  # no such key: DND was never set
            raise
        return str((result or {}).get("value", "")).upper() == "YES"

    async def _call(self, method: str, path: str, **params: str) -> Any:
        if self._rest is None:
            raise TelephonyError(f"ARI connector {self.name} is not running")
        return await self._rest.call(method, path, **params)


def _batches(items: list[str]) -> list[list[str]]:
    return [items[i : i + _BATCH] for i in range(0, len(items), _BATCH)]
