"""The /admin JSON API: health, connectors, people and their presence, groups, resync, audit.

Each route is an `Endpoint` in `ENDPOINT_TABLE`; the same table serves aiohttp and the
OpenAPI document, so the description cannot drift from what is served.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, TypeVar

import structlog
from aiohttp import web
from pydantic import BaseModel, ValidationError

from samtek.admin import rooms, status
from samtek.admin.context import CONTEXT, ENDPOINTS, AdminContext, Endpoint
from samtek.admin.middleware import audit_details, guard, read_json, unprocessable
from samtek.admin.models import (
    AuditEntryOut,
    AuditOut,
    AuditQuery,
    CalendarOut,
    ClaimOut,
    ConnectorsOut,
    EffectiveOut,
    FieldError,
    GroupsOut,
    HealthOut,
    LivenessOut,
    OutOfOfficeOut,
    PartHealth,
    PeopleOut,
    PeopleQuery,
    PersonOut,
    PresenceOut,
    ResyncOut,
    ResyncRequest,
)
from samtek.admin.openapi import openapi_document
from samtek.health import HealthState
from samtek.model import ClaimSource, Person
from samtek.presence.texts import status_text
from samtek.redact import redact_text, redact_url
from samtek.resync import Resyncable

log = structlog.get_logger("samtek.admin")
M = TypeVar("M", bound=BaseModel)
RUNNING = (HealthState.OK, HealthState.DEGRADED)


def validate(model: type[M], data: Mapping[str, Any], where: str) -> M:
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        raise web.HTTPUnprocessableEntity(
            text=unprocessable(exc, where).text, content_type="application/json"
        ) from None


def reply(model: BaseModel, status_code: int = 200) -> web.Response:
    return web.Response(
        status=status_code, text=model.model_dump_json(), content_type="application/json"
    )


def not_found(what: str) -> web.HTTPNotFound:
    return web.HTTPNotFound(text=f'{{"error": "{what} not found", "fields": []}}',
                            content_type="application/json")  # fmt: skip


def context(request: web.Request) -> AdminContext:
    return request.app[CONTEXT]


# -- health ----------------------------------------------------------------------------------
async def liveness(request: web.Request) -> web.Response:
    return reply(LivenessOut(live=True))


async def readiness(request: web.Request) -> web.Response:
    ctx = context(request)
    health = ctx.supervisor.health()
    not_ready = [n for n in ctx.core_parts if n in health and health[n].state not in RUNNING]
    failing = [n for n, h in health.items() if h.state not in (*RUNNING, HealthState.STARTING)]
    failing += [n for n, h in health.items() if h.state is HealthState.DEGRADED]
    out = HealthOut(live=True, ready=not not_ready, not_ready=not_ready, failing=sorted(failing))
    return reply(out, 200 if out.ready else 503)


async def connectors(request: web.Request) -> web.Response:
    ctx = context(request)
    parts = [
        PartHealth.of(h.snapshot(), _resyncable(ctx, name))
        for name, h in sorted(ctx.supervisor.health().items())
    ]
    return reply(ConnectorsOut(parts=parts))


# -- people ----------------------------------------------------------------------------------
def person_out(person: Person) -> PersonOut:
    return PersonOut(
        id=person.id,
        jid=person.jid,
        name=person.name,
        municipality=person.municipality,
        language=person.language,
        timezone=person.timezone,
        email=person.email,
        phones=list(person.phones),
        # Feed addresses carry tokens; the API shows which feed, never the secret.
        calendars=[
            CalendarOut(source=c.source, address=redact_url(c.address)) for c in person.calendars
        ],
    )


async def people(request: web.Request) -> web.Response:
    query = validate(PeopleQuery, request.query, "query")
    found = sorted(context(request).directory.people().values(), key=lambda p: p.id)
    if query.municipality is not None:
        found = [p for p in found if p.municipality == query.municipality]
    if query.q is not None:
        needle = query.q.lower()
        found = [
            p
            for p in found
            if any(needle in (v or "").lower() for v in (p.id, p.name, p.jid, p.email))
        ]
    page = found[query.offset : query.offset + query.limit]
    return reply(PeopleOut(total=len(found), people=[person_out(p) for p in page]))


async def person(request: web.Request) -> web.Response:
    found = context(request).directory.person(request.match_info["id"])
    if found is None:
        raise not_found("person")
    return reply(person_out(found))


async def presence(request: web.Request) -> web.Response:
    ctx = context(request)
    found = ctx.directory.person(request.match_info["id"])
    if found is None:
        raise not_found("person")
    if ctx.presence is None:
        raise web.HTTPServiceUnavailable(
            text='{"error": "the presence bridge is not running", "fields": []}',
            content_type="application/json",
        )
    at = ctx.clock.now()
    resolution = ctx.presence.explain(found.id, at)
    claims = sorted(ctx.presence.claims(found.id), key=lambda c: (c.valid_from, c.claim_id))
    oof = ctx.presence.out_of_office(found.id)
    effective, explanation = None, "no active claim: the person's own presence is shown"
    if resolution is not None:
        effective = EffectiveOut(
            show=resolution.show.value,
            kind=resolution.kind.name,
            since=resolution.period_start,
            until=resolution.display_until,
            active_claims=len(resolution.active),
        )
        text = status_text(
            resolution.kind,
            resolution.display_until,
            at,
            found.language,
            found.timezone,
            open_ended=resolution.winner.source is ClaimSource.TEAMS,
        )
        explanation = (
            f'{resolution.show.value} "{text}": {resolution.kind.name} has the highest'
            f" precedence of {len(resolution.active)} active claim(s)"
        )
    out = PresenceOut(
        person_id=found.id,
        at=at,
        effective=effective,
        claims=[
            ClaimOut(
                source=c.source.value,
                kind=c.kind.name,
                show=c.show.value,
                valid_from=c.valid_from,
                valid_until=c.valid_until,
                claim_id=c.claim_id,
                active=c.active_at(at),
                winning=resolution is not None and c is resolution.winner,
            )
            for c in claims
        ],
        out_of_office=OutOfOfficeOut(enabled=oof.enabled, start=oof.start, end=oof.end)
        if oof
        else None,
        explanation=explanation,
    )
    return reply(out)


async def groups(request: web.Request) -> web.Response:
    found = context(request).directory.groups()
    return reply(GroupsOut(groups={name: sorted(jids) for name, jids in sorted(found.items())}))


# -- actions ---------------------------------------------------------------------------------
async def resync(request: web.Request) -> web.Response:
    ctx = context(request)
    body = validate(ResyncRequest, await read_json(request), "body")
    names = body.connectors
    if names is None:
        names = sorted(n for n in ctx.connectors if _resyncable(ctx, n))
    problems = [
        FieldError(field=f"connectors[{i}]", message=f"unknown connector {name!r}")
        if name not in ctx.connectors
        else FieldError(field=f"connectors[{i}]", message=f"{name!r} cannot resync")
        for i, name in enumerate(names)
        if not _resyncable(ctx, name)
    ]
    if problems:
        fields = ", ".join(p.field for p in problems)
        raise web.HTTPUnprocessableEntity(
            text=f'{{"error": "invalid body: {fields}", "fields": '
            f"[{','.join(p.model_dump_json() for p in problems)}]}}",
            content_type="application/json",
        )
    tasks: dict[str, asyncio.Task[None]] = {}
    for name in names:
        task = ctx.resyncs.get(name)
        if task is None or task.done():  # one resync per connector at a time, never a pile
            target = ctx.connectors[name]
            assert isinstance(target, Resyncable)
            task = asyncio.create_task(target.resync(), name=f"resync:{name}")
            task.add_done_callback(_log_failure)
            ctx.resyncs[name] = task
        tasks[name] = task
    if tasks:
        await asyncio.wait(tasks.values(), timeout=body.wait_seconds)
    results = {name: _outcome(task) for name, task in tasks.items()}
    audit_details(request).update(connectors=names, results=results)
    pending = any(r == "pending" for r in results.values())
    return reply(ResyncOut(results=results), 202 if pending else 200)


async def audit(request: web.Request) -> web.Response:
    query = validate(AuditQuery, request.query, "query")
    entries = await context(request).audit.query(query.since, query.actor, query.limit)
    return reply(
        AuditOut(
            entries=[
                AuditEntryOut(
                    id=e.id,
                    at=e.at,
                    actor=e.actor,
                    action=e.action,
                    outcome=e.outcome,
                    details=e.details,
                )
                for e in entries
            ]
        )
    )


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document(ENDPOINT_TABLE, prefix="/admin"))


def _resyncable(ctx: AdminContext, name: str) -> bool:
    short = name.removeprefix("connector:")
    return isinstance(ctx.connectors.get(short), Resyncable)


def _outcome(task: asyncio.Task[None]) -> str:
    if not task.done():
        return "pending"
    if task.cancelled():
        return "error: cancelled"
    exc = task.exception()
    return "done" if exc is None else redact_text(f"error: {type(exc).__name__}: {exc}")


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("resync failed", task=task.get_name(), error=str(task.exception()))


ENDPOINT_TABLE: list[Endpoint] = [
    Endpoint("GET", "/health/live", liveness, "Liveness probe", LivenessOut, public=True),
    Endpoint("GET", "/health", readiness, "Readiness: core parts running", HealthOut,
             also=(503,), public=True),
    Endpoint("GET", "/openapi.json", openapi, "This OpenAPI document", None, public=True),
    Endpoint("GET", "/connectors", connectors, "Health of every supervised part",
             ConnectorsOut),
    Endpoint("GET", "/people", people, "People served", PeopleOut, query=PeopleQuery,
             errors=(422,)),
    Endpoint("GET", "/people/{id}", person, "One person", PersonOut, errors=(404,)),
    Endpoint("GET", "/people/{id}/presence", presence, "Why a person shows what they show",
             PresenceOut, errors=(404, 503)),
    Endpoint("GET", "/groups", groups, "Directory groups and their members", GroupsOut),
    Endpoint("POST", "/resync", resync, "Force a full resync of connectors", ResyncOut,
             body=ResyncRequest, errors=(400, 422), also=(202,)),
    Endpoint("GET", "/audit", audit, "Audit log, newest first", AuditOut, query=AuditQuery,
             errors=(422,)),
    Endpoint("GET", "/status", status.page, "Status page (HTML)", None, status_page=True,
             content_type="text/html"),
    *rooms.ENDPOINTS,
]  # fmt: skip


def build_admin_app(ctx: AdminContext) -> web.Application:
    app = web.Application(middlewares=[guard])  # body limit: [admin] max_body_bytes
    app[CONTEXT] = ctx
    app[ENDPOINTS] = {e.handler: e for e in ENDPOINT_TABLE}
    for endpoint in ENDPOINT_TABLE:
        app.router.add_route(endpoint.method, endpoint.path, endpoint.handler)
    app.on_cleanup.append(_stop_resyncs)
    return app


async def _stop_resyncs(app: web.Application) -> None:
    """Resyncs still waiting for their connector end with the server."""
    tasks = list(app[CONTEXT].resyncs.values())
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
