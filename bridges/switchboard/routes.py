"""The console's routes, mounted on the public listener under /switchboard: the page, login
and logout, search, one person, the live stream, and the actions.

Sessions are a random token in an HttpOnly, SameSite=Strict cookie (Secure unless turned off
for a loopback test setup), kept server-side with an expiry; the guards (CSRF, rate limits,
headers) are in `guard`. Logins are audited like every action.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
from importlib.resources import files
from typing import Any

from aiohttp import web

from bridges.switchboard.actions import (
    MAX_ABOUT,
    MAX_CALLER,
    MAX_NUMBER,
    NOTE_KEY,
    clean,
    note_text,
)
from bridges.switchboard.console import Switchboard
from bridges.switchboard.guard import (
    CSRF_HEADER,
    SWITCHBOARD,
    LoginLimits,
    error,
    json_body,
    post_guard,
    security_headers,
    session_of,
)
from bridges.switchboard.ldapauth import BindResult
from bridges.switchboard.sessions import COOKIE, Session
from bridges.switchboard.stream import sse

__all__ = ["CSRF_HEADER", "MAX_BODY", "REFUSED", "build_app"]

MAX_BODY = 4096
MAX_QUERY = 200
HEARTBEAT_SECONDS = 15.0

REFUSED = "Feil brukernavn eller passord, eller ingen tilgang til sentralbordet."


def _page() -> tuple[bytes, str]:
    """The page, and a CSP that allows exactly its one inline script (by hash)."""
    text = files("bridges.switchboard").joinpath("console.html").read_text("utf-8")
    script = re.search(r"<script>(.*?)</script>", text, re.S)
    assert script is not None, "console.html has its script inline"
    digest = base64.b64encode(hashlib.sha256(script.group(1).encode()).digest()).decode()
    csp = (
        "default-src 'none'; connect-src 'self'; img-src 'self'; style-src 'unsafe-inline';"
        f" script-src 'sha256-{digest}'; form-action 'self'; frame-ancestors 'none';"
        " base-uri 'none'"
    )
    return text.encode(), csp


def build_app(switchboard: Switchboard) -> web.Application:
    app = web.Application(middlewares=[security_headers, post_guard])
    app[SWITCHBOARD] = switchboard
    page, csp = _page()
    logins = LoginLimits(switchboard)

    async def index(request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=page,
            content_type="text/html",
            charset="utf-8",
            headers={"Content-Security-Policy": csp},
        )

    async def login(request: web.Request) -> web.StreamResponse:
        body = await json_body(request)
        username = str(body.get("username", ""))[:64].strip().lower()
        password = body.get("password")
        remote = request.remote or "unknown"
        actor = f"switchboard:{username or '?'}"
        if not logins.allow(username, remote):
            await switchboard.audit.record(
                actor, "switchboard.login", "rate-limited", {"remote": remote}
            )
            return error(429, "For mange forsøk. Vent litt og prøv igjen.")
        if not isinstance(password, str):
            return error(400, "Skriv brukernavn og passord.")
        outcome = await switchboard.verifier.verify(username, password)
        person = switchboard.person(username)
        if outcome.result is BindResult.UNAVAILABLE:
            await switchboard.audit.record(
                actor, "switchboard.login", "directory-unavailable", {"remote": remote}
            )
            return error(503, "Katalogtjenesten svarer ikke. Prøv igjen om litt.")
        if outcome.result is not BindResult.OK or person is None:
            await switchboard.audit.record(
                actor,
                "switchboard.login",
                "refused",
                {"remote": remote, "reason": outcome.detail or "not a known person"},
            )
            return error(401, REFUSED)
        if not switchboard.is_operator(person):
            await switchboard.audit.record(
                actor,
                "switchboard.login",
                "refused",
                {"remote": remote, "reason": "not an operator"},
            )
            return error(403, REFUSED)
        token, session = switchboard.sessions.create(username, person.id)
        await switchboard.audit.record(actor, "switchboard.login", "ok", {"remote": remote})
        response = web.json_response(_me(switchboard, session))
        response.set_cookie(
            COOKIE,
            token,
            path=request.app.router["index"].canonical.rstrip("/") or "/",
            max_age=switchboard.settings.session_minutes * 60,
            httponly=True,
            samesite="Strict",
            secure=switchboard.settings.cookie_secure,
        )
        return response

    async def logout(request: web.Request) -> web.StreamResponse:
        session = session_of(request)
        switchboard.sessions.end(request.cookies.get(COOKIE))
        await switchboard.audit.record(
            f"switchboard:{session.username}", "switchboard.logout", "ok"
        )
        response = web.json_response({"ok": True})
        response.del_cookie(COOKIE, path=request.app.router["index"].canonical.rstrip("/") or "/")
        return response

    async def me(request: web.Request) -> web.StreamResponse:
        return web.json_response(_me(switchboard, session_of(request)))

    async def search(request: web.Request) -> web.StreamResponse:
        session_of(request)
        query = request.query.get("q", "")[:MAX_QUERY]
        return web.json_response({"rows": switchboard.search(query)})

    async def person(request: web.Request) -> web.StreamResponse:
        session_of(request)
        found = switchboard.person(request.match_info["id"])
        if found is None:
            return error(404, "Finner ikke personen.")
        return web.json_response(switchboard.row(found))

    async def stream(request: web.Request) -> web.StreamResponse:
        session = session_of(request)
        client = switchboard.hub.connect(session.username, request.transport)
        if client is None:
            return error(503, "For mange åpne sentralbordsider.")
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",
            },  # nginx: do not buffer the stream
        )
        try:
            await response.prepare(request)
            await response.write(b"retry: 3000\n" + sse("hello", {}))
            closed = asyncio.ensure_future(client.closed.wait())
            try:
                while switchboard.sessions.get(request.cookies.get(COOKIE)) is not None:
                    get = asyncio.ensure_future(client.queue.get())
                    done, _ = await asyncio.wait(
                        {get, closed},
                        timeout=HEARTBEAT_SECONDS,
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                    if get not in done:
                        get.cancel()
                    if closed in done or request.transport is None:
                        break
                    if request.transport.is_closing():
                        break  # the page went away (noticed at the latest at a keep-alive)
                    await response.write(get.result() if get in done else b": keepalive\n\n")
            finally:
                closed.cancel()
        except (ConnectionResetError, ConnectionError):
            pass  # the page went away, or was dropped as too slow
        finally:
            switchboard.hub.disconnect(client)
        return response

    async def note(request: web.Request) -> web.StreamResponse:
        session = session_of(request)
        body = await json_body(request)
        target = switchboard.person(str(body.get("person", ""))[:200])
        operator = switchboard.person(session.person_id)
        key = str(body.get("key", ""))
        if target is None or operator is None or not NOTE_KEY.match(key):
            return error(400, "Velg en person og skriv notatet.")
        caller = clean(body.get("caller"), MAX_CALLER)
        number = clean(body.get("number"), MAX_NUMBER)
        about = clean(body.get("about"), MAX_ABOUT)
        if not (caller or number or about):
            return error(400, "Skriv hvem som ringte, nummer eller hva det gjelder.")
        text = note_text(operator, caller, number, about)
        actor = f"switchboard:{session.username}"
        note, repeated = switchboard.notes.leave(
            key, session.username, target, text, switchboard.clock.now()
        )
        if note is None:
            await switchboard.audit.record(actor, "switchboard.note", "failed",
                                           {"person": target.id})  # fmt: skip
            return error(503, "Notatet ble ikke sendt. Prøv igjen om litt.")
        if not repeated:
            await switchboard.audit.record(
                actor, "switchboard.note", "sent",
                {"person": target.id, "caller": caller, "number": number},
            )  # fmt: skip
        return web.json_response(switchboard.note_json(note, repeated))

    async def call(request: web.Request) -> web.StreamResponse:
        session = session_of(request)
        body = await json_body(request)
        target = switchboard.person(str(body.get("person", ""))[:200])
        operator = switchboard.person(session.person_id)
        if target is None or operator is None:
            return error(400, "Velg en person.")
        if not operator.phones or not target.phones:
            return error(409, "Du eller personen har ikke noe telefonnummer i katalogen.")
        from_ext, to_ext = operator.phones[0], target.phones[0]
        actor = f"switchboard:{session.username}"
        details = {"person": target.id, "from": from_ext, "to": to_ext}

        async def done(outcome: str, reason: str) -> None:
            await switchboard.audit.record(
                actor, "switchboard.call", outcome, {**details, "reason": reason}
            )
            switchboard.hub.send_to(
                session.username, sse("call", {"person": target.id, "status": outcome})
            )

        status = switchboard.calls.start(from_ext, to_ext, done)
        await switchboard.audit.record(actor, "switchboard.call", status, details)
        if status != "calling":
            return error(503, "Telefonen kan ikke ringe opp nå.")
        return web.json_response({"status": status, "from": from_ext}, status=202)

    async def transfer(request: web.Request) -> web.StreamResponse:
        session = session_of(request)
        body = await json_body(request)
        target = switchboard.person(str(body.get("person", ""))[:200])
        operator = switchboard.person(session.person_id)
        if target is None or operator is None:
            return error(400, "Velg en person.")
        if not operator.phones or not target.phones:
            return error(409, "Du eller personen har ikke noe telefonnummer i katalogen.")
        from_ext, to_ext = operator.phones[0], target.phones[0]
        outcome, reason = await switchboard.calls.transfer(from_ext, to_ext)
        details = {"person": target.id, "from": from_ext, "to": to_ext}
        if reason:
            details["reason"] = reason  # for admins only: the page gets a fixed text
        await switchboard.audit.record(
            f"switchboard:{session.username}", "switchboard.transfer", outcome, details
        )
        if outcome == "transferred":
            return web.json_response({"status": outcome, "to": to_ext})
        if outcome == "failed":
            return error(409, "Samtalen ble ikke satt over. Er du i en samtale nå?")
        return error(503, "Telefonsentralen kan ikke sette over samtaler herfra.")

    app.router.add_get("/", index, name="index")
    app.router.add_post("/api/login", login)
    app.router.add_post("/api/logout", logout)
    app.router.add_get("/api/me", me)
    app.router.add_get("/api/search", search)
    app.router.add_get("/api/people/{id}", person)
    app.router.add_get("/api/stream", stream)
    app.router.add_post("/api/note", note)
    app.router.add_post("/api/call", call)
    app.router.add_post("/api/transfer", transfer)
    return app


def _me(switchboard: Switchboard, session: Session) -> dict[str, Any]:
    person = switchboard.person(session.person_id)
    return {
        "username": session.username,
        "name": person.name if person else session.username,
        "extension": person.phones[0] if person and person.phones else None,
        "csrf": session.csrf,
        "expires": session.expires.isoformat(),
    }
