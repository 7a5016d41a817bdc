"""Request guards of the console: the session, CSRF (Origin and token), JSON bodies, security
headers, and the login rate limits.

- Every POST must come from an allowed Origin (browsers send it on every POST) and carry a
  JSON body (a cross-site form cannot send one without a preflight, which is never answered);
  all but the login also carry the session's CSRF token in a header.
- Answers never carry internal error texts: fixed Norwegian phrases for the page.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import structlog
from aiohttp import web

from bridges.assistant.ratelimit import RateLimiter, Verdict
from bridges.switchboard.console import Switchboard
from bridges.switchboard.sessions import COOKIE, Session, csrf_ok

log = structlog.get_logger("samtek.switchboard.web")

CSRF_HEADER = "X-Switchboard-CSRF"
SWITCHBOARD = web.AppKey("switchboard", Switchboard)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def session_of(request: web.Request) -> Session:
    switchboard = request.app[SWITCHBOARD]
    session = switchboard.sessions.get(request.cookies.get(COOKIE))
    person = switchboard.person(session.person_id) if session else None
    if session is None or person is None or not switchboard.is_operator(person):
        raise web.HTTPUnauthorized(
            text=json.dumps({"error": "Logg inn på nytt."}), content_type="application/json"
        )
    if request.method == "POST" and not csrf_ok(session, request.headers.get(CSRF_HEADER)):
        raise web.HTTPForbidden(
            text=json.dumps({"error": "Last siden på nytt."}), content_type="application/json"
        )
    return session


async def json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "Ugyldig forespørsel."}), content_type="application/json"
        )
    return body


def error(status: int, text: str) -> web.Response:
    return web.json_response({"error": text}, status=status)


def origin_allowed(request: web.Request, allowed: list[str]) -> bool:
    origin = request.headers.get("Origin")
    if not origin or origin == "null":
        return False
    if allowed:
        return origin.rstrip("/") in {a.rstrip("/") for a in allowed}
    # Same origin as the Host the browser asked for (the reverse proxy passes it on).
    return urlsplit(origin).netloc.lower() == request.host.lower()


@web.middleware
async def post_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method not in ("GET", "HEAD"):
        settings = request.app[SWITCHBOARD].settings
        if not origin_allowed(request, settings.allowed_origins):
            log.warning(
                "switchboard post from a foreign origin",
                path=request.path[:200],
                origin=request.headers.get("Origin", "")[:200],
            )
            return error(403, "Last siden på nytt.")
        if request.content_type != "application/json":
            return error(415, "Ugyldig forespørsel.")
    return await handler(request)


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        response = exc
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    if isinstance(response, web.HTTPException):
        raise response
    return response


class LoginLimits:
    """Token buckets per user name and per address (several operators may share a NAT
    address, so that bucket is four times larger)."""

    def __init__(self, switchboard: Switchboard) -> None:
        s = switchboard.settings
        self._users = RateLimiter(s.login_burst, s.login_per_seconds)
        self._addresses = RateLimiter(s.login_burst * 4, s.login_per_seconds)

    def allow(self, username: str, remote: str) -> bool:
        now = time.monotonic()
        by_user = self._users.check(f"user:{username}", now)
        by_address = self._addresses.check(f"addr:{remote}", now)
        return by_user is Verdict.ALLOW and by_address is Verdict.ALLOW
