"""Room spec endpoints: list, read, create, replace and delete project room specs.

The rooms feature owns the specs (`AdminContext.rooms`); this module only maps its answers to
HTTP: an invalid spec is 422 naming each field, a room owned by a spec file or an id in use
is 409 with the reason, and every write is audited by the middleware.
"""

from __future__ import annotations

from dataclasses import asdict

from aiohttp import web

from samtek.admin.context import (
    CONTEXT,
    Endpoint,
    RoomRequestRecord,
    RoomRequests,
    RoomSpecConflict,
    RoomSpecRecord,
    RoomSpecRejected,
    RoomSpecs,
)
from samtek.admin.middleware import actor_of, audit_details, error, read_json
from samtek.admin.models import (
    FieldError,
    RejectIn,
    RoomPlanOut,
    RoomRequestOut,
    RoomRequestsOut,
    RoomSpecIn,
    RoomSpecOut,
    RoomSpecsOut,
)
from samtek.xmpp.link import NotConnected


def _specs(request: web.Request) -> RoomSpecs:
    specs = request.app[CONTEXT].rooms
    if specs is None:
        raise web.HTTPNotFound(
            text='{"error": "project rooms are not configured: add a [rooms] section",'
            ' "fields": []}',
            content_type="application/json",
        )
    return specs


def _out(record: RoomSpecRecord) -> RoomSpecOut:
    return RoomSpecOut(id=record.id, owner=record.owner, source=record.source, spec=record.spec)


def _reply(record: RoomSpecRecord, status: int = 200) -> web.Response:
    return web.Response(
        status=status, text=_out(record).model_dump_json(), content_type="application/json"
    )


def _rejected(exc: RoomSpecRejected) -> web.Response:
    fields = [
        FieldError(field=head, message=rest) if sep else FieldError(field="body", message=e)
        for e in exc.errors
        for head, sep, rest in [e.partition(": ")]
    ]
    return error(422, "invalid room spec: " + ", ".join(f.field for f in fields), fields)


async def list_rooms(request: web.Request) -> web.Response:
    try:
        records = await _specs(request).list()
    except RoomSpecConflict as exc:
        return error(409, str(exc))
    out = RoomSpecsOut(rooms=[_out(r) for r in records])
    return web.Response(text=out.model_dump_json(), content_type="application/json")


async def plan_rooms(request: web.Request) -> web.Response:
    try:
        plan = await _specs(request).plan()
    except RoomSpecRejected as exc:
        return _rejected(exc)
    except NotConnected:
        return error(503, "not connected to the XMPP server: the plan needs the MUC service")
    out = RoomPlanOut(changes=plan.changes, lines=plan.lines)
    return web.Response(text=out.model_dump_json(), content_type="application/json")


def _requests(request: web.Request) -> RoomRequests:
    requests = request.app[CONTEXT].room_requests
    if requests is None:
        raise web.HTTPNotFound(
            text='{"error": "project rooms are not configured: add a [rooms] section",'
            ' "fields": []}',
            content_type="application/json",
        )
    return requests


def _request_out(record: RoomRequestRecord) -> RoomRequestOut:
    return RoomRequestOut(**asdict(record))


async def list_requests(request: web.Request) -> web.Response:
    records = await _requests(request).list()
    out = RoomRequestsOut(requests=[_request_out(r) for r in records])
    return web.Response(text=out.model_dump_json(), content_type="application/json")


async def approve_request(request: web.Request) -> web.Response:
    request_id = request.match_info["id"]
    try:
        await _requests(request).approve(request_id, actor_of(request))
    except KeyError:
        return error(404, "room request not found")
    except RoomSpecRejected as exc:
        return _rejected(exc)  # e.g. a person named in it has left the directory since
    except RoomSpecConflict as exc:
        return error(409, str(exc))
    audit_details(request).update(request=request_id)
    return await _one_request(request, request_id)


async def reject_request(request: web.Request) -> web.Response:
    request_id = request.match_info["id"]
    body = RejectIn.model_validate(await read_json(request))
    try:
        await _requests(request).reject(request_id, actor_of(request), body.reason)
    except KeyError:
        return error(404, "room request not found")
    except RoomSpecConflict as exc:
        return error(409, str(exc))
    audit_details(request).update(request=request_id, reason=body.reason)
    return await _one_request(request, request_id)


async def _one_request(request: web.Request, request_id: str) -> web.Response:
    found = next(r for r in await _requests(request).list() if r.id == request_id)
    return web.Response(text=_request_out(found).model_dump_json(), content_type="application/json")


async def get_room(request: web.Request) -> web.Response:
    try:
        record = await _specs(request).get(request.match_info["id"])
    except RoomSpecConflict as exc:
        return error(409, str(exc))
    if record is None:
        return error(404, "room spec not found")
    return _reply(record)


async def create_room(request: web.Request) -> web.Response:
    body = await read_json(request)
    try:
        record = await _specs(request).create(body)
    except RoomSpecRejected as exc:
        return _rejected(exc)
    except RoomSpecConflict as exc:
        return error(409, str(exc))
    audit_details(request).update(room=record.id, spec=record.spec)
    return _reply(record, 201)


async def replace_room(request: web.Request) -> web.Response:
    room_id = request.match_info["id"]
    body = await read_json(request)
    try:
        record = await _specs(request).replace(room_id, body)
    except KeyError:
        return error(404, "room spec not found (create it with POST /admin/rooms)")
    except RoomSpecRejected as exc:
        return _rejected(exc)
    except RoomSpecConflict as exc:
        return error(409, str(exc))
    audit_details(request).update(room=record.id, spec=record.spec)
    return _reply(record)


async def delete_room(request: web.Request) -> web.Response:
    room_id = request.match_info["id"]
    try:
        record = await _specs(request).archive(room_id)
    except RoomSpecConflict as exc:
        return error(409, str(exc))
    if record is None:
        return error(404, "room spec not found")
    audit_details(request).update(room=room_id, archived=True)
    return _reply(record)


ENDPOINTS = [
    Endpoint("GET", "/rooms", list_rooms, "Project room specs (files and API-made)",
             RoomSpecsOut, errors=(404, 409)),
    # "_plan" can never be a room id (ids start with a letter or digit)
    Endpoint("GET", "/rooms/_plan", plan_rooms, "What the rooms daemon would change now",
             RoomPlanOut, errors=(404, 422, 503)),
    Endpoint("GET", "/rooms/_requests", list_requests, "Room requests made in chat",
             RoomRequestsOut, errors=(404,)),
    Endpoint("POST", "/rooms/_requests/{id}/approve", approve_request,
             "Approve a room request: the daemon provisions the room, the requester is told",
             RoomRequestOut, errors=(404, 409, 422)),
    Endpoint("POST", "/rooms/_requests/{id}/reject", reject_request,
             "Reject a room request with a reason told to the requester", RoomRequestOut,
             body=RejectIn, errors=(400, 404, 409, 422)),
    Endpoint("POST", "/rooms", create_room, "Create a room spec; the daemon provisions it",
             RoomSpecOut, body=RoomSpecIn, errors=(400, 404, 409, 422), also=(201,)),
    Endpoint("GET", "/rooms/{id}", get_room, "One room spec and who owns it", RoomSpecOut,
             errors=(404, 409)),
    Endpoint("PUT", "/rooms/{id}", replace_room, "Replace an API-made room spec", RoomSpecOut,
             body=RoomSpecIn, errors=(400, 404, 409, 422)),
    Endpoint("DELETE", "/rooms/{id}", delete_room,
             "Archive an API-made room: its end date becomes yesterday", RoomSpecOut,
             errors=(404, 409)),
]  # fmt: skip
