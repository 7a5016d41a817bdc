"""A loopback Microsoft Graph + Entra token endpoint over TLS for tests.

Serves OIDC discovery and client-credentials tokens (for MSAL), calendarView, calendarView
delta, getSchedule, mailboxSettings, event creation, JSON $batch and change-notification
subscriptions (tests/fakes/graph/notify.py: validation and delivery to the subscriber over
HTTP); keeps a request log and injects 429/503 with Retry-After, 401, slow replies and 410
on delta tokens.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from aiohttp import web

from tests.fakes.graph import render
from tests.fakes.graph.notify import Notifier
from tests.fakes.graph.presence import FakePresence, user_id
from tests.fakes.mailboxes import CreatedMeeting, FakeEvent, Mailboxes
from tests.fakes.tls import make_cert, server_context

Reply = tuple[int, dict[str, str], Any]


@dataclass(frozen=True)
class LoggedRequest:
    operation: str
    mailboxes: tuple[str, ...]
    at: float
    status: int
    in_batch: bool = False


@dataclass
class GraphFault:
    kind: str  # throttle (429) | unavailable (503) | unauthorized (401) | missing (404) | slow
    operation: str | None = None  # None: any Graph operation (never the token endpoint)
    count: int = 1
    retry_after: int = 1
    delay: float = 0.0
    mailbox: str | None = None  # None: any mailbox


@dataclass
class _Cursor:
    mailbox: str
    start: datetime
    end: datetime
    seq: int
    pending: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class FakeGraph:
    tenant: str = "kommune-tenant"
    client_id: str = "samtek-app"
    client_secret: str = "secret"
    max_page: int = 50
    state: Mailboxes = field(default_factory=Mailboxes)
    log: list[LoggedRequest] = field(default_factory=list)
    faults: deque[GraphFault] = field(default_factory=deque)
    tokens: set[str] = field(default_factory=set)
    base: str = ""
    ca_file: Path | None = None
    _cursors: dict[str, _Cursor] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None
    notifier: Notifier = field(default_factory=lambda: Notifier("kommune-tenant"))
    presence: FakePresence = field(default_factory=lambda: FakePresence("samtek-app"))

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self, directory: Path) -> str:
        cert, key = make_cert(directory)
        self.ca_file = cert
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=server_context(cert, key))
        await site.start()
        self.base = f"https://127.0.0.1:{self._runner.addresses[0][1]}"
        self.notifier.start()
        self.state.listeners.append(self.notifier.on_change)
        return self.base

    async def stop(self) -> None:
        await self.notifier.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- test controls ----------------------------------------------------------------------
    def inject(self, fault: GraphFault) -> None:
        self.faults.append(fault)

    def invalidate_delta_tokens(self, mailbox: str | None = None) -> None:
        for token, cursor in list(self._cursors.items()):
            if mailbox is None or cursor.mailbox == mailbox.lower():
                del self._cursors[token]

    def revoke_tokens(self) -> None:
        self.tokens.clear()

    def count(self, operation: str, status: int | None = 200) -> int:
        return sum(
            1
            for r in self.log
            if r.operation == operation and (status is None or r.status == status)
        )

    # -- HTTP -------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.Response:
        path = request.path
        if path.endswith("/v2.0/.well-known/openid-configuration"):
            return web.json_response(self._openid(path.split("/")[1]))
        if path.endswith("/oauth2/v2.0/token"):
            return await self._token(request)
        body = await request.json() if request.can_read_body else None
        status, headers, payload = await self._dispatch(
            request.method,
            request.path_qs,
            body,
            request.headers.get("Authorization", ""),
            in_batch=False,
        )
        if payload is None:
            return web.Response(status=status, headers=headers)
        return web.json_response(payload, status=status, headers=headers)

    def _openid(self, tenant: str) -> dict[str, str]:
        root = f"{self.base}/{tenant}"
        return {
            "token_endpoint": f"{root}/oauth2/v2.0/token",
            "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
            "issuer": f"{root}/v2.0",
        }

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        ok = (
            form.get("client_id") == self.client_id
            and form.get("client_secret") == self.client_secret
            and form.get("grant_type") == "client_credentials"
        )
        self.log.append(LoggedRequest("token", (), time.monotonic(), 200 if ok else 401))
        if not ok:
            return web.json_response(
                {
                    "error": "invalid_client",
                    "error_description": "AADSTS7000215: Invalid client secret provided.",
                    "error_codes": [7000215],
                },
                status=401,
            )
        token = f"tok{next(self._ids)}"
        self.tokens.add(token)
        return web.json_response(
            {"token_type": "Bearer", "expires_in": 3599, "access_token": token}
        )

    # -- Graph dispatch (shared by plain requests and $batch) -------------------------------
    async def _dispatch(
        self, method: str, path_qs: str, body: Any, auth: str, in_batch: bool
    ) -> Reply:
        url = urlsplit(path_qs)
        path = url.path.removeprefix("/v1.0")
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        op, mailbox = self._operation(method, path)
        mailboxes: tuple[str, ...] = (mailbox,) if mailbox else ()
        if op == "getSchedule" and isinstance(body, dict):
            mailboxes = tuple(s.lower() for s in body.get("schedules", []))

        def logged(status: int) -> None:
            self.log.append(LoggedRequest(op, mailboxes, time.monotonic(), status, in_batch))

        if auth.removeprefix("Bearer ") not in self.tokens:
            logged(401)
            return 401, {}, render.error("InvalidAuthenticationToken", "Access token is invalid.")
        fault = self._take_fault(op, mailboxes)
        if fault is not None:
            if fault.kind == "slow":
                await asyncio.sleep(fault.delay)
            else:
                status = {"throttle": 429, "unavailable": 503, "unauthorized": 401, "missing": 404}[
                    fault.kind
                ]
                logged(status)
                headers = {"Retry-After": str(fault.retry_after)} if status in (429, 503) else {}
                code = {
                    429: "TooManyRequests",
                    503: "ServiceNotAvailable",
                    401: "InvalidAuthenticationToken",
                    404: "ErrorItemNotFound",
                }[status]
                return status, headers, render.error(code, "Injected fault")
        if op == "batch":
            logged(200)
            return await self._batch(body, auth)
        if op == "getPresences":
            status, headers, payload = self.presence.get_many(body)
            logged(status)
            return status, headers, payload
        if op in ("createSubscription", "renewSubscription", "deleteSubscription", "reauthorize"):
            status, headers, payload = await self._subscription(op, path, body)
            logged(status)
            return status, headers, payload
        handler = getattr(self, f"_op_{op}", None)
        if handler is None or mailbox is None:
            logged(400)
            return 400, {}, render.error("BadRequest", f"fake lacks {method} {path}")
        status, headers, payload = handler(mailbox, query, body)
        logged(status)
        return status, headers, payload

    @staticmethod
    def _operation(method: str, path: str) -> tuple[str, str | None]:
        if path == "/$batch":
            return "batch", None
        if path == "/communications/getPresencesByUserId" and method == "POST":
            return "getPresences", None
        if path.startswith("/subscriptions"):
            rest = path.removeprefix("/subscriptions").strip("/")
            if method == "POST" and not rest:
                return "createSubscription", None
            if method == "POST" and rest.endswith("/reauthorize"):
                return "reauthorize", None
            if rest and "/" not in rest:
                ops = {"PATCH": "renewSubscription", "DELETE": "deleteSubscription"}
                return ops.get(method, "unknown"), None
            return "unknown", None
        parts = path.strip("/").split("/")
        if len(parts) == 2 and parts[0] == "users" and method == "GET":
            return "user", unquote(parts[1]).lower()
        if len(parts) < 3 or parts[0] != "users":
            return "unknown", None
        mailbox, rest = unquote(parts[1]).lower(), "/".join(parts[2:])
        ops = {
            ("POST", "presence/setPresence"): "setPresence",
            ("POST", "presence/clearPresence"): "clearPresence",
            ("POST", "presence/setUserPreferredPresence"): "setUserPreferredPresence",
            ("POST", "presence/clearUserPreferredPresence"): "clearUserPreferredPresence",
            ("GET", "calendarView"): "calendarView",
            ("GET", "calendarView/delta"): "delta",
            ("POST", "calendar/getSchedule"): "getSchedule",
            ("GET", "mailboxSettings"): "mailboxSettings",
            ("GET", "mailboxSettings/automaticRepliesSetting"): "mailboxSettings",
            ("POST", "events"): "createEvent",
            ("POST", "calendar/events"): "createEvent",
        }
        return ops.get((method, rest), "unknown"), mailbox

    def _take_fault(self, op: str, mailboxes: tuple[str, ...]) -> GraphFault | None:
        for fault in self.faults:
            if fault.operation in (None, op) and fault.mailbox in (None, *mailboxes):
                fault.count -= 1
                if fault.count <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    async def _batch(self, body: Any, auth: str) -> Reply:
        requests = body.get("requests", []) if isinstance(body, dict) else []
        if not requests or len(requests) > 20:
            return 400, {}, render.error("BadRequest", "A batch holds 1 to 20 requests.")
        responses = []
        for sub in requests:
            status, headers, payload = await self._dispatch(
                sub["method"], sub["url"], sub.get("body"), auth, in_batch=True
            )
            responses.append(
                {"id": sub["id"], "status": status, "headers": headers, "body": payload}
            )
        return 200, {}, {"responses": responses}

    async def _subscription(self, op: str, path: str, body: Any) -> Reply:
        sub_id = path.removeprefix("/subscriptions").strip("/").split("/")[0]
        if op == "createSubscription":
            return await self.notifier.create(body)
        if op == "renewSubscription":
            return self.notifier.renew(sub_id, body)
        if op == "reauthorize":
            return self.notifier.reauthorize(sub_id)
        return self.notifier.delete(sub_id)

    # -- operations -------------------------------------------------------------------------
    def _window(self, query: dict[str, str]) -> tuple[datetime, datetime]:
        return (
            datetime.fromisoformat(query["startDateTime"].replace("Z", "+00:00")),
            datetime.fromisoformat(query["endDateTime"].replace("Z", "+00:00")),
        )

    def _in_window(self, mailbox: str, start: datetime, end: datetime) -> list[FakeEvent]:
        return sorted(
            (e for e in self.state.box(mailbox).events.values() if e.start < end and e.end > start),
            key=lambda e: e.start,
        )

    def _op_calendarView(self, mailbox: str, query: dict[str, str], _body: Any) -> Reply:
        start, end = self._window(query)
        events = self._in_window(mailbox, start, end)
        skip = int(query.get("$skip", "0"))
        top = min(int(query.get("$top", self.max_page)), self.max_page)
        rendered = [render.event(e) for e in events[skip : skip + top]]
        if skip + top >= len(events):  # verbatim payloads come last, on the last page
            rendered += self.state.box(mailbox).raw_graph  # type: ignore[arg-type]
        if "$select" in query:  # Graph returns the id and the selected properties only
            keep = {"id", *query["$select"].split(",")}
            rendered = [{k: v for k, v in r.items() if k in keep} for r in rendered]
        page: dict[str, Any] = {"value": rendered}
        if skip + top < len(events):
            page["@odata.nextLink"] = (
                f"{self.base}/v1.0/users/{mailbox}/calendarView?startDateTime={query['startDateTime']}"
                f"&endDateTime={query['endDateTime']}&$top={top}&$skip={skip + top}"
            )
            if "$select" in query:
                page["@odata.nextLink"] += f"&$select={query['$select']}"
        return 200, {}, page

    def _op_delta(self, mailbox: str, query: dict[str, str], _body: Any) -> Reply:
        if "$deltatoken" in query or "$skiptoken" in query:
            token = query.get("$deltatoken") or query["$skiptoken"]
            cursor = self._cursors.pop(token, None)
            if cursor is None or cursor.mailbox != mailbox:
                return (
                    410,
                    {},
                    render.error(
                        "syncStateNotFound", "The sync state is not found; resync required."
                    ),
                )
            if "$deltatoken" in query:  # a new round: what changed since the cursor's seq
                cursor.pending = self._changes(cursor)
        else:
            start, end = self._window(query)
            cursor = _Cursor(mailbox, start, end, self.state.last_seq)
            cursor.pending = [render.event(e) for e in self._in_window(mailbox, start, end)]
            cursor.pending += self.state.box(mailbox).raw_graph  # type: ignore[arg-type]
        page, cursor.pending = cursor.pending[: self.max_page], cursor.pending[self.max_page :]
        token = f"t{next(self._ids)}"
        self._cursors[token] = cursor
        link = f"{self.base}/v1.0/users/{mailbox}/calendarView/delta?"
        if cursor.pending:
            return 200, {}, {"value": page, "@odata.nextLink": f"{link}$skiptoken={token}"}
        cursor.seq = max(cursor.seq, self.state.last_seq)
        return 200, {}, {"value": page, "@odata.deltaLink": f"{link}$deltatoken={token}"}

    def _changes(self, cursor: _Cursor) -> list[dict[str, Any]]:
        changed = dict.fromkeys(
            c.item_id for c in self.state.changes_since(cursor.mailbox, cursor.seq)
        )
        box = self.state.box(cursor.mailbox)
        out = []
        for item_id in changed:
            e = box.events.get(item_id)
            if e is not None and e.start < cursor.end and e.end > cursor.start:
                out.append(render.event(e))
            else:  # deleted, or moved out of the window
                out.append(render.removed(item_id))
        return out

    def _op_user(self, mailbox: str, _query: dict[str, str], _body: Any) -> Reply:
        if mailbox not in self.state.boxes and user_id(mailbox) not in self.presence.users:
            return 404, {}, render.error("Request_ResourceNotFound", "User not found.")
        return 200, {}, {"id": self.presence.user(mailbox)}

    def _op_setPresence(self, uid: str, _query: dict[str, str], body: Any) -> Reply:
        return self.presence.set_presence(uid, body)

    def _op_clearPresence(self, uid: str, _query: dict[str, str], body: Any) -> Reply:
        return self.presence.clear_presence(uid, body)

    def _op_setUserPreferredPresence(self, uid: str, _query: dict[str, str], body: Any) -> Reply:
        return self.presence.set_preferred(uid, body)

    def _op_clearUserPreferredPresence(self, uid: str, _query: dict[str, str], _body: Any) -> Reply:
        return self.presence.clear_preferred(uid)

    def _op_getSchedule(self, _mailbox: str, _query: dict[str, str], body: Any) -> Reply:
        schedules = [s.lower() for s in body.get("schedules", [])]
        if len(schedules) > 20:
            return 400, {}, render.error("ErrorInvalidParameter", "At most 20 schedules.")
        start, end = render.parse_time(body["startTime"]), render.parse_time(body["endTime"])
        value = []
        for address in schedules:
            box = self.state.boxes.get(address)
            events = (
                None
                if box is None
                else [e for e in self._in_window(address, start, end) if e.busy != "Free"]
            )
            value.append(render.schedule(address, events))
        return 200, {}, {"value": value}

    def _op_mailboxSettings(self, mailbox: str, _query: dict[str, str], _body: Any) -> Reply:
        setting = render.automatic_replies(self.state.box(mailbox).oof)
        return 200, {}, {"automaticRepliesSetting": setting, "timeZone": "W. Europe Standard Time"}

    def _op_createEvent(self, mailbox: str, _query: dict[str, str], body: Any) -> Reply:
        start, end = render.parse_time(body["start"]), render.parse_time(body["end"])
        attendees = tuple(a["emailAddress"]["address"].lower() for a in body.get("attendees", []))
        location = (body.get("location") or {}).get("displayName")
        self.state.created.append(
            CreatedMeeting(mailbox, body.get("subject", ""), start, end, attendees, location, None)
        )
        event = self.state.add_event(
            mailbox,
            body.get("subject", ""),
            start,
            end,
            location=location,
            online_meeting_url=body.get("onlineMeetingUrl"),
        )
        return 201, {}, render.event(event)

    def dump(self) -> str:
        return json.dumps([r.__dict__ for r in self.log], default=str)
