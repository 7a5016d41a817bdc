"""Room spec endpoints: stubs answering 501 until the rooms feature provides its store.

The rooms feature (another branch) owns room specs; when it lands, these handlers delegate to
it. Until then the routes exist, are described in the OpenAPI document and are audited.
"""

from __future__ import annotations

from aiohttp import web

from samtek.admin.context import Endpoint
from samtek.admin.middleware import error

NOT_YET = "room specs are managed by the rooms feature, which is not installed in this build"


async def list_rooms(request: web.Request) -> web.Response:
    return error(501, NOT_YET)


async def create_room(request: web.Request) -> web.Response:
    return error(501, NOT_YET)


async def get_room(request: web.Request) -> web.Response:
    return error(501, NOT_YET)


async def replace_room(request: web.Request) -> web.Response:
    return error(501, NOT_YET)


async def delete_room(request: web.Request) -> web.Response:
    return error(501, NOT_YET)


ENDPOINTS = [
    Endpoint("GET", "/rooms", list_rooms, "Room specs (not yet available)", errors=(501,)),
    Endpoint("POST", "/rooms", create_room, "Create a room spec (not yet)", errors=(501,)),
    Endpoint("GET", "/rooms/{id}", get_room, "One room spec (not yet)", errors=(501,)),
    Endpoint("PUT", "/rooms/{id}", replace_room, "Replace a room spec (not yet)", errors=(501,)),
    Endpoint("DELETE", "/rooms/{id}", delete_room, "Delete a room spec (not yet)", errors=(501,)),
]
