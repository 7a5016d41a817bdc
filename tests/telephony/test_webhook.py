"""Webhook connector through the service's real HTTP server, driven by a real HTTP client.

Every refused request leaves a clear log line and has no effect: the next event on the bus
is always the valid sentinel sent after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from structlog.testing import capture_logs

from connectors.webhook import WebhookConfig, WebhookConnector
from connectors.webhook.signature import sign
from samtek.bus import Bus, Subscription
from samtek.health import HealthReporter
from samtek.plugin import ConnectorContext
from samtek.store import Store, open_store
from samtek.telephony import CallEvent, CallState, DeviceState, DeviceStateUpdate
from samtek.web import HttpSection, WebServer
from tests.rawhttp import status_after_partial_body, status_of_chunked
from tests.telephony.conftest import StaticDirectory

SECRET = b"s3cret-shared-with-the-pbx"


@dataclass
class Hook:
    url: str
    calls: Subscription[CallEvent]
    devices: Subscription[DeviceStateUpdate]
    session: aiohttp.ClientSession

    async def post(
        self,
        event: dict[str, Any],
        secret: bytes = SECRET,
        age: float = 0,
        headers: dict[str, str] | None = None,
        timestamp: str | None = None,
    ) -> int:
        body = json.dumps(event).encode()
        if timestamp is None:
            timestamp = str(int(time.time() - age))
        sent = {
            "Content-Type": "application/json",
            "X-Samtek-Timestamp": timestamp,
            "X-Samtek-Signature": sign(secret, timestamp, body),
        }
        sent.update(headers or {})
        sent = {k: v for k, v in sent.items() if v}
        async with self.session.post(self.url, data=body, headers=sent) as resp:
            return resp.status

    async def next_call(self) -> CallEvent:
        return await asyncio.wait_for(self.calls.queue.get(), 5)


def call(event_id: str, state: str = "missed", call_id: str = "c1") -> dict[str, Any]:
    return {
        "event": "call",
        "id": event_id,
        "call_id": call_id,
        "extension": "1002",
        "direction": "in",
        "state": state,
        "remote_number": "+47 22 33 44 55",
        "remote_name": "Kari Nordmann",
        "at": "2026-11-25T10:42:00+01:00",
    }


@contextlib.asynccontextmanager
async def webhook(store: Store, tmp_path: Path, **settings: object) -> AsyncIterator[Hook]:
    secret_file = tmp_path / "webhook.secret"
    secret_file.write_bytes(SECRET)
    config = WebhookConfig.model_validate(
        {"type": "webhook", "secret": f"file:{secret_file}", **settings}
    )
    web = WebServer(HttpSection(port=0), HealthReporter("http"))
    bus = Bus()
    ctx = ConnectorContext(
        "cloudpbx", StaticDirectory([]), bus, HealthReporter("cloudpbx"), store, web
    )
    connector = WebhookConnector(config, ctx)
    hook_calls, hook_devices = bus.subscribe(CallEvent), bus.subscribe(DeviceStateUpdate)
    tasks = [asyncio.create_task(web.run()), asyncio.create_task(connector.run())]
    try:
        await asyncio.wait_for(web.wait_started(), 5)
        async with aiohttp.ClientSession() as session:
            yield Hook(
                f"{web.base_url}/webhooks/cloudpbx/events", hook_calls, hook_devices, session
            )
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(f"sqlite:///{tmp_path}/state.db") as opened:
        yield opened


def reasons(logs: list[MutableMapping[str, Any]]) -> list[str]:
    return [e["reason"] for e in logs if e["event"] == "webhook request rejected"]


async def test_signed_event_is_published(store: Store, tmp_path: Path) -> None:
    async with webhook(store, tmp_path) as hook:
        assert await hook.post(call("e1")) == 202
        event = await hook.next_call()
        assert (event.source, event.call_id, event.state) == ("cloudpbx", "c1", CallState.MISSED)
        assert (event.remote_number, event.remote_name) == ("+47 22 33 44 55", "Kari Nordmann")

        device = {"event": "device_state", "id": "d1", "extension": "1002", "state": "in_use"}
        assert await hook.post(device | {"at": "2026-11-25T10:43:00Z"}) == 202
        update = await asyncio.wait_for(hook.devices.queue.get(), 5)
        assert update.state is DeviceState.IN_USE
        # An older state arriving late is accepted but changes nothing.
        assert (
            await hook.post(device | {"id": "d0", "state": "idle", "at": "2026-11-25T10:40:00Z"})
            == 202
        )
        assert hook.devices.queue.empty()


async def test_forged_unsigned_and_stale_requests_are_refused(store: Store, tmp_path: Path) -> None:
    async with webhook(store, tmp_path) as hook:
        with capture_logs() as logs:
            assert await hook.post(call("f1", call_id="forged"), secret=b"guessed") == 401
            assert (
                await hook.post(call("f2", call_id="unsigned"), headers={"X-Samtek-Signature": ""})
                == 401
            )
            assert await hook.post(call("f3", call_id="stale"), age=301) == 401
            assert await hook.post(call("f4", call_id="future"), age=-301) == 401
            assert await hook.post({"event": "call", "id": "f5"}) == 400
        assert reasons(logs)[0] == "forged request (signature does not match)"
        assert reasons(logs)[1].startswith("unsigned request")
        assert reasons(logs)[2].startswith("stale request")
        assert reasons(logs)[3].startswith("stale request")
        assert reasons(logs)[4].startswith("malformed event")
        assert all(e["log_level"] == "warning" for e in logs if "reason" in e)
        assert await hook.post(call("ok", call_id="sentinel")) == 202
        assert (await hook.next_call()).call_id == "sentinel"  # nothing before it


async def test_timestamp_must_be_ascii_digits(store: Store, tmp_path: Path) -> None:
    """Correctly signed, but not whole seconds in ASCII: float() took these, and "nan"
    passed the age check (NaN compares false), so an old capture stayed valid forever."""
    now = int(time.time())
    fullwidth = str(now).translate({ord("0") + d: 0xFF10 + d for d in range(10)})
    arabic_indic = str(now).translate({ord("0") + d: 0x0660 + d for d in range(10)})
    bad = ["nan", "NaN", fullwidth, arabic_indic, f"{now:.9e}", f"{now}.0", f"+{now}",
           f"{now // 10**6}_{now % 10**6:06d}", "9" * 13]  # fmt: skip
    async with webhook(store, tmp_path) as hook:
        with capture_logs() as logs:
            for n, timestamp in enumerate(bad):
                status = await hook.post(call(f"t{n}", call_id="odd"), timestamp=timestamp)
                assert status == 401, timestamp
        assert [r.split(" ", 2)[:2] for r in reasons(logs)] == [["bad", "timestamp"]] * len(bad)
        assert await hook.post(call("ok", call_id="sentinel"), timestamp=str(now)) == 202
        assert (await hook.next_call()).call_id == "sentinel"  # nothing before it


async def test_body_over_max_body_bytes_is_refused_unread(store: Store, tmp_path: Path) -> None:
    """The sub-application's own limit used to be ignored (aiohttp applies only the top-level
    app's): a correctly signed 900 KB body was accepted with max_body_bytes = 2048."""
    async with webhook(store, tmp_path, max_body_bytes=2048) as hook:
        padded = call("big", call_id="big") | {"remote_name": None, "padding": "x" * 900_000}
        with capture_logs() as logs:
            assert await hook.post(padded) == 413
        assert [e["declared"] for e in logs if e["event"] == "request body too large"] == [
            len(json.dumps(padded))
        ]
        # Announced, not sent: the answer comes without waiting for the body.
        assert await status_after_partial_body(hook.url, 900_000, b"{" + b" " * 1023) == 413
        # No Content-Length (chunked): read up to the limit, no further.
        assert await status_of_chunked(hook.url, 900_000) == 413
        assert await hook.post(call("ok", call_id="sentinel")) == 202
        assert (await hook.next_call()).call_id == "sentinel"  # nothing before it


async def test_replayed_event_is_refused_also_after_restart(store: Store, tmp_path: Path) -> None:
    async with webhook(store, tmp_path) as hook:
        assert await hook.post(call("e1", call_id="first")) == 202
        assert (await hook.next_call()).call_id == "first"
        with capture_logs() as logs:
            assert await hook.post(call("e1", call_id="first")) == 409
        assert reasons(logs) == ["replayed event id 'e1'"]
    async with webhook(store, tmp_path) as hook:  # SAMTEK restarted, same store
        with capture_logs() as logs:
            assert await hook.post(call("e1", call_id="first")) == 409
        assert reasons(logs) == ["replayed event id 'e1'"]
        assert await hook.post(call("e2", call_id="sentinel")) == 202
        assert (await hook.next_call()).call_id == "sentinel"


async def test_replay_memory_is_bounded_by_age(store: Store) -> None:
    from datetime import UTC, datetime, timedelta

    from samtek.store.webhook import WebhookEvents

    seen = WebhookEvents(store.db, keep=timedelta(minutes=11))
    t0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    for n in range(50):
        assert await seen.first_seen("pbx", f"e{n}", t0 + timedelta(seconds=n))
    assert not await seen.first_seen("pbx", "e0", t0 + timedelta(minutes=5))
    assert await seen.first_seen("pbx", "late", t0 + timedelta(minutes=12))
    assert await seen.count("pbx") == 1  # everything older than the window is gone
