"""A fake Asterisk ARI: REST resources and the /events WebSocket, on 127.0.0.1.

Shapes follow the Asterisk REST Data Models (Channel, CallerID, DialplanCEP, DeviceState,
Application, Bridge) and the event models (ChannelCreated, ChannelStateChange, ChannelDestroyed
with cause/cause_txt, DeviceStateChanged, StasisEnd), each with type, application and
timestamp. As Asterisk does, channel and device events go only to an app subscribed to
`endpoint:<tech>/<res>` or `deviceState:<name>`. Calls are simulated the way Asterisk reports a
Dial() between phones.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from aiohttp import BasicAuth, WSMsgType, web


def _timestamp() -> str:
    # Asterisk's format: 2026-11-25T10:42:00.123+0000
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}+0000"


@dataclass
class FakeCall:
    caller: dict[str, Any]  # the calling phone's channel (state Ring)
    callee: dict[str, Any]  # the dialled phone's channel (Down -> Ringing -> Up)


@dataclass
class FakeAri:
    username: str = "samtek"
    password: str = "ari-secret"
    app_name: str = "samtek"
    port: int = 0
    subscriptions: set[str] = field(default_factory=set)
    device_states: dict[str, str] = field(default_factory=dict)
    astdb: dict[str, str] = field(default_factory=dict)  # "DND/1002" -> "YES"
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    originates: list[dict[str, str]] = field(default_factory=list)
    bridges: dict[str, dict[str, Any]] = field(default_factory=dict)  # Bridge models by id
    stasis: set[str] = field(default_factory=set)  # channel ids in our Stasis application
    continued: list[dict[str, str]] = field(default_factory=list)  # POST .../continue params
    connections: int = 0
    _sockets: list[web.WebSocketResponse] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    _seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _connected: asyncio.Condition = field(default_factory=asyncio.Condition)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/ari"

    async def start(self) -> None:
        app = web.Application(middlewares=[self._auth])
        app.router.add_get("/ari/events", self._events)
        app.router.add_post("/ari/applications/{app}/subscription", self._subscribe)
        app.router.add_delete("/ari/applications/{app}/subscription", self._unsubscribe)
        app.router.add_get("/ari/deviceStates/{name:.+}", self._device_state)
        app.router.add_get("/ari/channels", self._list_channels)
        app.router.add_post("/ari/channels", self._originate)
        app.router.add_delete("/ari/channels/{id}", self._hangup)
        app.router.add_post("/ari/channels/{id}/continue", self._continue)
        app.router.add_get("/ari/bridges", self._list_bridges)
        app.router.add_get("/ari/asterisk/variable", self._get_variable)
        app.router.add_post("/ari/asterisk/variable", self._set_variable)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        await self.drop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def drop(self) -> None:
        """Close every event WebSocket from the server side (Asterisk restart, LB timeout)."""
        sockets, self._sockets = self._sockets, []
        for ws in sockets:
            await ws.close()

    async def wait_connections(self, count: int, limit: float = 10) -> None:
        async with asyncio.timeout(limit), self._connected:
            await self._connected.wait_for(lambda: self.connections >= count and self._sockets)

    # --- call simulation (what Asterisk emits for Dial() between two phones) --------------

    def channel(
        self, endpoint: str, state: str, caller: tuple[str, str], exten: str, cid: str = ""
    ) -> dict[str, Any]:
        seq = next(self._seq)
        channel_id = cid or f"{int(time.time())}.{seq}"
        channel: dict[str, Any] = {
            "id": channel_id,
            "name": f"{endpoint}-{seq:08x}",
            "state": state,
            "protocol_id": f"call-{seq}@127.0.0.1",
            "caller": {"name": caller[0], "number": caller[1]},
            "connected": {"name": "", "number": ""},
            "accountcode": "",
            "dialplan": {"context": "from-internal", "exten": exten, "priority": 1},
            "creationtime": _timestamp(),
            "language": "no",
        }
        self.channels[channel_id] = channel
        return channel

    async def ring(self, tech: str, from_ext: str, from_name: str, to_ext: str) -> FakeCall:
        caller = self.channel(f"{tech}/{from_ext}", "Ring", (from_name, from_ext), to_ext)
        await self.emit_channel("ChannelCreated", caller)
        await self.set_device(f"{tech}/{from_ext}", "INUSE")
        # The dialled leg: caller id is the target, connected line is the calling party.
        callee = self.channel(f"{tech}/{to_ext}", "Down", ("", to_ext), "s")
        callee["connected"] = {"name": from_name, "number": from_ext}
        await self.emit_channel("ChannelCreated", callee)
        callee["state"] = "Ringing"
        await self.emit_channel("ChannelStateChange", callee)
        await self.set_device(f"{tech}/{to_ext}", "RINGING")
        return FakeCall(caller, callee)

    async def answer(self, call: FakeCall) -> None:
        for channel in (call.callee, call.caller):
            channel["state"] = "Up"
            await self.emit_channel("ChannelStateChange", channel)
        await self.set_device(call.callee["name"].rsplit("-", 1)[0], "INUSE")

    def bridge(self, call: FakeCall, stasis: bool = True) -> dict[str, Any]:
        """Put both legs of an answered call in one bridge: a Stasis app's mixing bridge, or
        (stasis=False) the basic bridge Dial() makes, whose channels ARI may not control."""
        bridge_id = f"bridge-{next(self._seq)}"
        channels = [call.caller["id"], call.callee["id"]]
        self.bridges[bridge_id] = {
            "id": bridge_id,
            "technology": "simple_bridge",
            "bridge_type": "mixing",
            "bridge_class": "stasis" if stasis else "basic",
            "creator": self.app_name if stasis else "Dial",
            "name": "",
            "channels": channels,
            "creationtime": _timestamp(),
            "video_mode": "none",
        }
        if stasis:
            self.stasis.update(channels)
        return self.bridges[bridge_id]

    async def hangup(
        self, call: FakeCall, cause: tuple[int, str] = (16, "Normal Clearing")
    ) -> None:
        for channel in (call.callee, call.caller):
            await self.destroy(channel, cause)
            await self.set_device(channel["name"].rsplit("-", 1)[0], "NOT_INUSE")

    async def destroy(self, channel: dict[str, Any], cause: tuple[int, str]) -> None:
        self.channels.pop(channel["id"], None)
        self.stasis.discard(channel["id"])
        for bridge in self.bridges.values():
            if channel["id"] in bridge["channels"]:
                bridge["channels"].remove(channel["id"])
        await self.emit_channel("ChannelDestroyed", channel, cause=cause[0], cause_txt=cause[1])

    async def set_device(self, name: str, state: str) -> None:
        self.device_states[name] = state
        if f"deviceState:{name}" in self.subscriptions:
            await self.emit(
                {"type": "DeviceStateChanged", "device_state": {"name": name, "state": state}}
            )

    async def emit_channel(self, kind: str, channel: dict[str, Any], **extra: Any) -> None:
        endpoint = channel["name"].rsplit("-", 1)[0]
        if f"endpoint:{endpoint}" in self.subscriptions:
            await self.emit({"type": kind, "channel": dict(channel), **extra})

    async def emit(self, event: dict[str, Any]) -> None:
        event = {**event, "application": self.app_name, "timestamp": _timestamp()}
        for ws in list(self._sockets):
            await ws.send_json(event)

    # --- REST resources -------------------------------------------------------------------

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        header = request.headers.get("Authorization", "")
        try:
            auth = BasicAuth.decode(header)
        except ValueError:
            auth = None
        if auth is None or (auth.login, auth.password) != (self.username, self.password):
            return web.json_response({"message": "Authentication required"}, status=401)
        response: web.StreamResponse = await handler(request)
        return response

    async def _events(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("app") != self.app_name:
            return web.json_response({"message": "unknown app"}, status=400)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        async with self._connected:
            self.connections += 1
            self._connected.notify_all()
        async for msg in ws:
            if msg.type is WSMsgType.ERROR:
                break
        if ws in self._sockets:
            self._sockets.remove(ws)
        return ws

    async def _subscribe(self, request: web.Request) -> web.Response:
        sources = [s for s in request.query.get("eventSource", "").split(",") if s]
        if not sources:
            return web.json_response({"message": "Missing parameter eventSource"}, status=400)
        self.subscriptions.update(sources)
        return web.json_response(
            {
                "name": request.match_info["app"],
                "channel_ids": [],
                "bridge_ids": [],
                "endpoint_ids": sorted(
                    s[9:] for s in self.subscriptions if s.startswith("endpoint:")
                ),
                "device_names": sorted(
                    s[12:] for s in self.subscriptions if s.startswith("deviceState:")
                ),
                "events_allowed": [],
                "events_disallowed": [],
            }
        )

    async def _unsubscribe(self, request: web.Request) -> web.Response:
        sources = [s for s in request.query.get("eventSource", "").split(",") if s]
        if not sources:
            return web.json_response({"message": "Missing parameter eventSource"}, status=400)
        self.subscriptions.difference_update(sources)
        return web.json_response({"name": request.match_info["app"]})

    async def _device_state(self, request: web.Request) -> web.Response:
        name = unquote(request.match_info["name"])
        return web.json_response({"name": name, "state": self.device_states.get(name, "NOT_INUSE")})

    async def _list_channels(self, request: web.Request) -> web.Response:
        return web.json_response(list(self.channels.values()))

    async def _originate(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        if "endpoint" not in query:
            return web.json_response({"message": "Endpoint must be specified"}, status=400)
        self.originates.append(query)
        endpoint = query["endpoint"]
        name, _, number = query.get("callerId", "").rpartition("<")
        channel = self.channel(
            endpoint,
            "Down",
            (name.strip().strip('"'), number.rstrip(">")),
            query.get("extension", "s"),
            cid=query.get("channelId", ""),
        )
        channel["dialplan"]["context"] = query.get("context", "default")
        await self.emit_channel("ChannelCreated", channel)
        channel["state"] = "Ringing"
        await self.emit_channel("ChannelStateChange", channel)
        return web.json_response(channel)

    async def _hangup(self, request: web.Request) -> web.Response:
        channel = self.channels.get(request.match_info["id"])
        if channel is None:
            return web.json_response({"message": "Channel not found"}, status=404)
        reason = request.query.get("reason", "normal")
        cause = (16, "Normal Clearing") if reason == "normal" else (21, "Call Rejected")
        await self.destroy(channel, cause)
        await self.set_device(channel["name"].rsplit("-", 1)[0], "NOT_INUSE")
        return web.Response(status=204)

    async def _continue(self, request: web.Request) -> web.Response:
        """Exit the Stasis app and continue in the dialplan; the dialplan here Dial()s the
        extension as a phone of the same technology (what a from-internal context does)."""
        channel = self.channels.get(request.match_info["id"])
        if channel is None:
            return web.json_response({"message": "Channel not found"}, status=404)
        if channel["id"] not in self.stasis:
            return web.json_response({"message": "Channel not in Stasis application"}, status=409)
        query = dict(request.query)
        self.continued.append(query)
        self.stasis.discard(channel["id"])
        for bridge in self.bridges.values():
            if channel["id"] in bridge["channels"]:
                bridge["channels"].remove(channel["id"])
        await self.emit({"type": "StasisEnd", "channel": dict(channel)})
        exten = query.get("extension", "s")
        channel["dialplan"] = {
            "context": query.get("context", channel["dialplan"]["context"]),
            "exten": exten,
            "priority": int(query.get("priority", "1")),
        }
        tech = channel["name"].split("/", 1)[0]
        number = channel["caller"]["number"]
        target = self.channel(f"{tech}/{exten}", "Down", ("", exten), "s")
        target["connected"] = {"name": channel["caller"]["name"], "number": number}
        await self.emit_channel("ChannelCreated", target)
        target["state"] = "Ringing"
        await self.emit_channel("ChannelStateChange", target)
        await self.set_device(f"{tech}/{exten}", "RINGING")
        return web.Response(status=204)

    async def _list_bridges(self, request: web.Request) -> web.Response:
        return web.json_response(list(self.bridges.values()))

    async def answer_channel(self, channel_id: str) -> None:
        channel = self.channels[channel_id]
        channel["state"] = "Up"
        await self.emit_channel("ChannelStateChange", channel)

    async def _get_variable(self, request: web.Request) -> web.Response:
        key = _astdb_key(request.query.get("variable", ""))
        if key is None or key not in self.astdb:
            return web.json_response({"message": "Provided variable was not found"}, status=404)
        return web.json_response({"value": self.astdb[key]})

    async def _set_variable(self, request: web.Request) -> web.Response:
        variable, value = request.query.get("variable", ""), request.query.get("value", "")
        if variable.startswith("DEVICE_STATE(Custom:") and variable.endswith(")"):
            await self.set_device(variable[13:-1], value)  # dialplan function DEVICE_STATE()
            return web.Response(status=204)
        key = _astdb_key(variable)
        if key is None:
            return web.json_response({"message": "Variable name is required"}, status=400)
        self.astdb[key] = value
        return web.Response(status=204)


def _astdb_key(variable: str) -> str | None:
    """DB(DND/1002) -> "DND/1002" (the dialplan function that reads/writes AstDB)."""
    if variable.startswith("DB(") and variable.endswith(")"):
        return variable[3:-1]
    return None
