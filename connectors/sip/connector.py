"""The SIP connector: call state from RFC 4235 dialog subscriptions, click-to-call by 3PCC,
blind transfer by REFER with Target-Dialog through the PBX.

Publishes `CallEvent` and `DeviceStateUpdate` on the bus for every extension in people's
`phones`, and implements `samtek.telephony.Telephony`. State is in memory only: after a
restart the PBX's full-state NOTIFYs rebuild it.
"""

from __future__ import annotations

import asyncio
import re
import socket
import time
from collections.abc import Callable

import structlog

from connectors.sip.c2c import ClickToCall
from connectors.sip.config import SipConfig
from connectors.sip.dialoginfo import CallChange, DialogTracker, Transition
from connectors.sip.digest import Credentials
from connectors.sip.message import SipMessage, param
from connectors.sip.subscription import SubscriptionManager
from connectors.sip.transfer import refer_call
from connectors.sip.transport import Address, SipTransport
from samtek.plugin import Connector, ConnectorContext
from samtek.telephony import (
    CallDirection,
    CallEvent,
    CallState,
    DeviceState,
    DeviceStateUpdate,
    NotSupportedByPbx,
    TelephonyError,
)

log = structlog.get_logger("samtek.sip")

# Extensions end up in SIP URIs: anything else could inject headers or routes.
_EXTENSION = re.compile(r"^[0-9A-Za-z+*#._-]{1,32}$")
_MAX_PARALLEL_CALLS = 50

_STATES = {
    Transition.RINGING: CallState.RINGING,
    Transition.ANSWERED: CallState.ANSWERED,
    Transition.HUNG_UP: CallState.HUNG_UP,
    Transition.MISSED: CallState.MISSED,
}


def extension_of(phone: str) -> str | None:
    """A person's phone entry as a dialable extension, or None if it cannot be one."""
    cleaned = re.sub(r"[\s()/-]", "", phone)
    return cleaned if _EXTENSION.match(cleaned) else None


class SipConnector(Connector):
    config_model = SipConfig

    def __init__(
        self,
        config: SipConfig,
        ctx: ConnectorContext,
        monotonic: Callable[[], float] = time.monotonic,  # tests: a still clock for log limits
    ) -> None:
        super().__init__(config, ctx)
        self._monotonic = monotonic
        self.config: SipConfig = config
        self._ready = asyncio.Event()
        self._transport: SipTransport | None = None
        self._manager: SubscriptionManager | None = None
        self._contact = ""
        self._calls: dict[str, ClickToCall] = {}
        self._device: dict[str, DeviceState] = {}

    async def run(self) -> None:
        cfg = self.config
        next_hop = await _resolve(cfg.server_host, cfg.server_port)
        creds = None
        if cfg.auth_username and cfg.auth_password is not None:
            creds = Credentials(cfg.auth_username, cfg.auth_password.get_secret_value())
        # Only the PBX and trusted_hosts are heard at all: checked before parsing.
        transport = SipTransport(
            next_hop,
            self._on_request,
            cfg.transaction_timeout,
            credentials=creds,
            trusted=cfg.trusted_hosts,
            monotonic=self._monotonic,
        )
        await transport.start(cfg.bind_host, cfg.bind_port)
        host, port = transport.local_address
        if cfg.advertised_host:
            host = cfg.advertised_host
        elif host == "0.0.0.0":
            host = _local_ip_towards(next_hop)
        self._contact = f"<sip:{cfg.user}@{host}:{port}>"
        self._transport = transport
        self._manager = SubscriptionManager(
            transport, cfg, self.ctx.health, self._publish_changes, self._contact
        )
        log.info(
            "sip connector listening", contact=self._contact, pbx=f"{next_hop[0]}:{next_hop[1]}"
        )
        self._ready.set()
        tasks = [
            asyncio.create_task(self._manager.probe_forever()),
            asyncio.create_task(self._follow_directory()),
            asyncio.ensure_future(self._manager.fatal),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()  # re-raises AuthFailed (or a bug) for the supervisor
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._ready.clear()
            try:
                await asyncio.shield(self._manager.stop())
            finally:
                transport.close()
                self._transport = self._manager = None

    @property
    def local_address(self) -> Address | None:
        """Where NOTIFYs are received, once running."""
        return self._transport.local_address if self._transport is not None else None

    def subscriptions(self) -> dict[str, str]:
        """Extension -> Call-ID of its active dialog subscription (for health and tests)."""
        return self._manager.subscribed() if self._manager is not None else {}

    def extensions(self) -> set[str]:
        found: set[str] = set()
        for person in self.ctx.directory.people().values():
            for phone in person.phones:
                ext = extension_of(phone)
                if ext is None:
                    self.ctx.health.item_error(f"phone {phone!r}", "not usable as SIP extension")
                else:
                    found.add(ext)
        return found

    async def _follow_directory(self) -> None:
        seen = self.ctx.served.version
        while True:
            if self._manager is not None:
                wanted = self.extensions()
                self._manager.set_extensions(wanted)
                for gone in self._device.keys() - wanted:
                    del self._device[gone]
            # At once on a directory change; directory_poll is the fallback.
            seen = await self.ctx.served.wait(seen, self.config.directory_poll)

    async def _publish_changes(
        self, ext: str, changes: list[CallChange], tracker: DialogTracker
    ) -> None:
        now = self.ctx.clock.now()
        for change in changes:
            if change.remote_number == self.config.user:
                # Our own click-to-call leg ringing the caller: not a call to report (a
                # "missed call from SAMTEK" would be wrong); the device state still counts.
                continue
            direction = (
                CallDirection.IN if change.dialog.direction == "recipient" else CallDirection.OUT
            )
            await self.ctx.bus.publish(
                CallEvent(
                    source=self.name,
                    call_id=change.dialog.call_id,
                    extension=ext,
                    direction=direction,
                    state=_STATES[change.transition],
                    remote_number=change.remote_number,
                    remote_name=change.remote_name,
                    at=now,
                )
            )
        if tracker.busy or tracker.calling:
            state = DeviceState.IN_USE
        elif tracker.ringing:
            state = DeviceState.RINGING
        else:
            state = DeviceState.IDLE
        if self._device.get(ext) is not state:
            self._device[ext] = state
            await self.ctx.bus.publish(DeviceStateUpdate(self.name, ext, state, now))

    # --- Telephony -------------------------------------------------------------------

    async def originate(self, from_ext: str, to_ext: str) -> str:
        for ext in (from_ext, to_ext):
            if not _EXTENSION.match(ext):
                raise TelephonyError(f"{ext!r} is not a valid extension")
        if not self._ready.is_set() or self._transport is None:
            raise TelephonyError(f"SIP connector {self.name} is not connected")
        if len(self._calls) >= _MAX_PARALLEL_CALLS:
            raise TelephonyError("too many click-to-call requests in progress")
        cfg = self.config
        identity = f"sip:{cfg.user}@{cfg.aor_domain}"
        call = ClickToCall(self._transport, self._contact, identity, cfg.aor_domain)
        self._calls[call.call_id] = call
        try:
            return await call.run(
                from_ext, to_ext, cfg.originate_answer_timeout, cfg.originate_transfer_timeout
            )
        finally:
            del self._calls[call.call_id]

    async def transfer(self, extension: str, target: str) -> str:
        for ext in (extension, target):
            if not _EXTENSION.match(ext):
                raise TelephonyError(f"{ext!r} is not a valid extension")
        if not self._ready.is_set() or self._transport is None or self._manager is None:
            raise TelephonyError(f"SIP connector {self.name} is not connected")
        sub = self._manager.subs.get(extension)
        answered = sub.tracker.answered() if sub is not None else []
        if not answered:
            raise TelephonyError(f"{extension} is in no answered call")
        dialog = answered[-1]  # the latest: the call the operator just took
        cfg = self.config
        await refer_call(
            self._transport,
            self._contact,
            f"sip:{cfg.user}@{cfg.aor_domain}",
            cfg.aor_domain,
            extension,
            dialog,
            target,
        )
        return dialog.call_id

    async def set_dnd(self, ext: str, on: bool) -> None:
        raise NotSupportedByPbx(
            "SIP has no standard request to switch a phone's do-not-disturb through the PBX "
            "(Kamailio keeps none); switch DND on the phone itself"
        )

    # --- incoming requests -----------------------------------------------------------

    async def _on_request(self, msg: SipMessage, addr: Address) -> None:
        transport = self._transport
        if transport is None:
            return
        call = self._calls.get(msg.call_id)
        if call is not None:
            await call.handle(msg, addr)
            return
        if msg.method == "NOTIFY" and self._manager is not None:
            if await self._manager.handle_notify(msg, addr):
                return
            # Not (or no longer) ours: 481 makes the PBX drop the stale subscription.
            transport.respond(msg, addr, 481, "Subscription Does Not Exist")
        elif msg.method == "OPTIONS":
            transport.respond(msg, addr, 200, "OK")
        elif param(msg.get("To") or "", "tag"):
            transport.respond(msg, addr, 481, "Call/Transaction Does Not Exist")
        else:
            transport.respond(msg, addr, 405, "Method Not Allowed")


async def _resolve(host: str, port: int) -> Address:
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, family=socket.AF_INET, type=socket.SOCK_DGRAM
    )
    if not infos:
        raise OSError(f"cannot resolve SIP server {host}")
    addr = infos[0][4]
    return (str(addr[0]), int(addr[1]))


def _local_ip_towards(dest: Address) -> str:
    """The local address the OS would use to reach the PBX (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(dest)
        return str(s.getsockname()[0])
