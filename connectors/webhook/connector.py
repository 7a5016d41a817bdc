"""The webhook connector: a route on the service's HTTP server for a cloud PBX's callbacks.

POST {web}/webhooks/<name>/events with a JSON body (connectors/webhook/payload.py) and two
headers: the signed Unix timestamp and `sha256=<hex HMAC of "<timestamp>.<body>">`.
Refused with a log line and no effect: unsigned (401), forged (401, constant-time compare),
stale or future (> max_age, 401), malformed (400), replayed event id (409; ids are remembered
in the store for the acceptance window, so also across restarts).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import structlog
from aiohttp import web
from pydantic import ValidationError

from connectors.webhook.config import WebhookConfig
from connectors.webhook.payload import PAYLOAD, CallPayload
from connectors.webhook.signature import valid
from samtek.plugin import Connector, ConnectorContext
from samtek.store.webhook import WebhookEvents
from samtek.telephony import CallEvent, DeviceState, DeviceStateUpdate

log = structlog.get_logger("samtek.webhook")

ROUTE = "/events"
_MAX_DIGITS = 12  # Unix seconds until the year 33658


def unix_seconds(text: str) -> int | None:
    """Whole Unix seconds in ASCII digits, else None.

    float() would take "nan" (every age comparison with NaN is false: never stale), "1e9",
    fullwidth or Arabic-Indic digits and "+1_700_000_000"; none of that is a timestamp.
    """
    if not (0 < len(text) <= _MAX_DIGITS and text.isascii() and text.isdigit()):
        return None
    return int(text)


class WebhookConnector(Connector):
    config_model = WebhookConfig

    def __init__(self, config: WebhookConfig, ctx: ConnectorContext) -> None:
        super().__init__(config, ctx)
        self.config: WebhookConfig = config
        if ctx.web is None:
            raise RuntimeError(f"webhook connector {ctx.name}: no HTTP server in its context")
        self._secret = config.secret.get_secret_value().encode()
        # Ids must outlive the acceptance window on both sides of our clock.
        keep = timedelta(seconds=2 * config.max_age_seconds + 60)
        self._seen = WebhookEvents(ctx.store.db, keep)
        self._device: dict[str, tuple[DeviceState, datetime]] = {}
        self._running = asyncio.Event()
        app = web.Application()
        app.router.add_post(ROUTE, self._handle)
        self.prefix = f"/webhooks/{ctx.name}"
        ctx.web.mount(self.prefix, app, max_body_bytes=config.max_body_bytes)

    async def run(self) -> None:
        self._running.set()
        log.info("webhook connector ready", path=f"{self.prefix}{ROUTE}")
        self.ctx.health.success()
        try:
            await asyncio.Event().wait()
        finally:
            self._running.clear()

    async def _handle(self, request: web.Request) -> web.Response:
        if not self._running.is_set():
            return web.json_response({"error": "not running"}, status=503)
        cfg = self.config
        body = await request.read()
        timestamp = request.headers.get(cfg.timestamp_header, "")
        signature = request.headers.get(cfg.signature_header, "")
        if not timestamp or not signature:
            return self._reject(request, 401, "unsigned request (signature or timestamp missing)")
        if not valid(self._secret, timestamp, body, signature):
            return self._reject(request, 401, "forged request (signature does not match)")
        seconds = unix_seconds(timestamp)
        if seconds is None:
            return self._reject(request, 401, f"bad timestamp {timestamp[:32]!r}")
        age = self.ctx.clock.now().timestamp() - seconds
        if abs(age) > cfg.max_age_seconds:
            return self._reject(request, 401, f"stale request (signed {age:+.0f} s from now)")
        try:
            payload = PAYLOAD.validate_json(body)
        except ValidationError as exc:
            return self._reject(request, 400, f"malformed event: {exc.errors()[0]['msg']}")
        if not await self._seen.first_seen(self.name, payload.id, self.ctx.clock.now()):
            return self._reject(request, 409, f"replayed event id {payload.id!r}")
        if isinstance(payload, CallPayload):
            await self.ctx.bus.publish(
                CallEvent(
                    source=self.name,
                    call_id=payload.call_id,
                    extension=payload.extension,
                    direction=payload.direction,
                    state=payload.state,
                    remote_number=payload.remote_number,
                    remote_name=payload.remote_name,
                    at=payload.at,
                )
            )
        else:
            await self._device_state(payload.extension, payload.state, payload.at)
        self.ctx.health.success()
        return web.json_response({"status": "accepted", "id": payload.id}, status=202)

    async def _device_state(self, ext: str, state: DeviceState, at: datetime) -> None:
        last = self._device.get(ext)
        if last is not None and (last[1] >= at or last[0] is state):
            # Out of order (callbacks may overtake each other) or no change: nothing to say.
            if last[1] < at:
                self._device[ext] = (state, at)
            return
        self._device[ext] = (state, at)
        await self.ctx.bus.publish(DeviceStateUpdate(self.name, ext, state, at))

    def _reject(self, request: web.Request, status: int, reason: str) -> web.Response:
        log.warning(
            "webhook request rejected",
            connector=self.name,
            reason=reason,
            remote=request.remote,
            status=status,
        )
        return web.json_response({"error": reason}, status=status)
