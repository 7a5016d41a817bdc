"""Overlay operations to the server: in batch IQs, or one IQ each with an older module.

The server's module may predate batches (then one IQ per change, at most MAX_IN_FLIGHT at
once) or schedules (then the bridge sends every transition at its boundary). The sender finds
out from the first refusal and remembers; per-operation results come back in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import structlog

from samtek.xmpp.overlay import (
    ClearOp,
    Op,
    OpResult,
    OverlayRejected,
    OverlayUnsupported,
    PresenceOverlays,
    ScheduleOp,
    SetOp,
)

log = structlog.get_logger("samtek.presence")

MAX_IN_FLIGHT = 256  # single IQs at once, with a module that predates batches


class OverlaySender:
    def __init__(self, overlays: PresenceOverlays, schedules: bool) -> None:
        self._overlays = overlays
        self._batches = True  # until the server's module turns out to predate them
        # False once the module refused a schedule (or scheduling is switched off).
        self.schedules = schedules
        self._limit = asyncio.Semaphore(MAX_IN_FLIGHT)

    async def send(self, ops: Sequence[Op]) -> list[OpResult]:
        """One result per operation, in order; NotConnected or OverlayRejected (the whole
        request) propagate."""
        if self._batches:
            try:
                return await self._overlays.batch(ops)
            except OverlayUnsupported:
                log.warning("the overlay module predates batches: one IQ per change")
                self._batches = False
        return list(await asyncio.gather(*(self._send_one(op) for op in ops)))

    async def _send_one(self, op: Op) -> OpResult:
        async with self._limit:
            try:
                if isinstance(op, ClearOp):
                    await self._overlays.clear(op.jid)
                elif isinstance(op, SetOp):
                    return "ok" if await self._overlays.set(op.jid, op.overlay) else "dismissed"
                elif self.schedules:
                    await self._overlays.schedule(op.jid, op.entries)
                return "ok"
            except OverlayUnsupported as exc:
                if isinstance(op, ScheduleOp):
                    log.warning("the overlay module predates schedules: sent at the boundaries")
                    self.schedules = False
                return exc
            except OverlayRejected as exc:
                return exc
