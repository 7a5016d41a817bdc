"""The admin API's one boundary: bearer-token auth, roles, validation errors, audit, no 500 leaks.

No token (or an unknown one) is 401; a read token on a writing method is 403 (and audited);
a pydantic ValidationError becomes 422 naming each field; an unexpected exception is logged
with its traceback and answered with a generic 500. Every write is recorded in the audit log.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

import structlog
from aiohttp import web
from pydantic import ValidationError

from samtek.admin.config import AdminToken
from samtek.admin.context import CONTEXT, ENDPOINTS, Handler
from samtek.admin.models import ErrorOut, FieldError

log = structlog.get_logger("samtek.admin")

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def error(status: int, message: str, fields: list[FieldError] | None = None) -> web.Response:
    body = ErrorOut(error=message, fields=fields or []).model_dump_json()
    return web.Response(status=status, text=body, content_type="application/json")


def unprocessable(exc: ValidationError, where: str) -> web.Response:
    fields = [
        FieldError(field=_dotted(e["loc"]) or where, message=e["msg"])
        for e in exc.errors(include_url=False, include_input=False)
    ]
    names = ", ".join(f.field for f in fields)
    return error(422, f"invalid {where}: {names}", fields)


def actor_of(request: web.Request) -> str:
    return str(request.get("actor", "anonymous"))


def audit_details(request: web.Request) -> dict[str, Any]:
    """Handlers add what they did; recorded with the request's outcome."""
    details = request.get("audit")
    if details is None:
        details = request["audit"] = {}
    return details


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    token = _match(request.headers.get("Authorization", ""), ctx.settings.tokens)
    endpoint = request.app[ENDPOINTS].get(request.match_info.handler)
    open_route = endpoint is not None and (
        endpoint.public or (endpoint.status_page and ctx.settings.public_status)
    )
    request["actor"] = token.name if token else "anonymous"
    if token is None and not open_route:
        denied = error(401, "a bearer token is required (Authorization: Bearer <token>)")
        denied.headers["WWW-Authenticate"] = 'Bearer realm="samtek-admin"'
        return denied
    writing = request.method in WRITE_METHODS
    action = f"{request.method} {_route_path(request)}"
    if writing and (token is None or token.role != "admin"):
        await ctx.audit.record(actor_of(request), action, "denied", {"path": request.path})
        return error(403, f"token {actor_of(request)!r} may only read")
    response: web.StreamResponse
    try:
        response = await handler(request)
    except ValidationError as exc:
        response = unprocessable(exc, "input")
    except web.HTTPException as exc:
        response = exc
    except Exception:  # the boundary: log it, never leak internals
        log.exception("admin request failed", path=request.path, method=request.method)
        response = error(500, "internal error (logged)")
    if writing:
        details = {"path": request.path, **request.get("audit", {})}
        await ctx.audit.record(actor_of(request), action, str(response.status), details)
    if isinstance(response, web.HTTPException):
        raise response
    return response


def _match(header: str, tokens: list[AdminToken]) -> AdminToken | None:
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        return None
    given = presented.strip().encode()
    found = None
    for candidate in tokens:  # compare with all: timing says nothing about which matched
        if hmac.compare_digest(given, candidate.token.get_secret_value().encode()):
            found = candidate
    return found


def _route_path(request: web.Request) -> str:
    info = request.match_info.route.resource
    return info.canonical if info is not None else request.path


def _dotted(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object ({} when empty); 400/422 errors name the problem."""
    if not request.body_exists:
        return {}
    try:
        data = json.loads(await request.read())
    except (ValueError, UnicodeDecodeError) as exc:
        raise web.HTTPBadRequest(
            text=ErrorOut(error=f"body is not valid JSON: {exc}").model_dump_json(),
            content_type="application/json",
        ) from None
    if not isinstance(data, dict):
        raise web.HTTPUnprocessableEntity(
            text=ErrorOut(
                error="invalid body: expected a JSON object",
                fields=[FieldError(field="body", message="expected a JSON object")],
            ).model_dump_json(),
            content_type="application/json",
        )
    return data
