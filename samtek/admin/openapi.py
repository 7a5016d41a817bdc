"""OpenAPI 3.1 document of the admin API, generated from the endpoint table and pydantic models."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from samtek import __version__
from samtek.admin.context import Endpoint
from samtek.admin.models import ErrorOut

REF = "#/components/schemas/{model}"
_PATH_PARAM = re.compile(r"{(\w+)}")
_REASONS = {
    200: "OK",
    202: "Accepted, still running",
    400: "Malformed request",
    401: "No or unknown bearer token",
    403: "The token may only read",
    404: "Not found",
    422: "Invalid input; `fields` names each invalid field",
    501: "Not implemented in this build",
    503: "Not ready",
}


def openapi_document(endpoints: Sequence[Endpoint], prefix: str) -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        operation = _operation(endpoint, schemas)
        paths.setdefault(prefix + endpoint.path, {})[endpoint.method.lower()] = operation
    _collect(ErrorOut, "serialization", schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "SAMTEK admin API",
            "version": __version__,
            "description": "Bearer tokens from [admin] tokens; 'read' tokens cannot write.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


def _operation(endpoint: Endpoint, schemas: dict[str, Any]) -> dict[str, Any]:
    name = endpoint.handler.__name__
    operation: dict[str, Any] = {
        "operationId": f"{endpoint.method.lower()}_{name}",
        "summary": endpoint.summary,
        "responses": {},
    }
    parameters = [
        {"name": p, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
        for p in _PATH_PARAM.findall(endpoint.path)
    ]
    if endpoint.query is not None:
        schema = _collect(endpoint.query, "validation", schemas, inline=True)
        required = set(schema.get("required", ()))
        for field, field_schema in schema.get("properties", {}).items():
            parameters.append(
                {"name": field, "in": "query", "required": field in required,
                 "schema": field_schema}
            )  # fmt: skip
    if parameters:
        operation["parameters"] = parameters
    if endpoint.body is not None:
        ref = _collect(endpoint.body, "validation", schemas)
        operation["requestBody"] = {
            "required": False,
            "content": {"application/json": {"schema": ref}},
        }
    responses = operation["responses"]
    ok = _content(endpoint, schemas)
    for status in (200, *endpoint.also):
        responses[str(status)] = {"description": _REASONS.get(status, "OK"), **ok}
    errors = set(endpoint.errors)
    if not endpoint.public:
        errors.add(401)
        if endpoint.method != "GET":
            errors.add(403)
    for status in sorted(errors):
        responses[str(status)] = {
            "description": _REASONS.get(status, "Error"),
            "content": {"application/json": {"schema": {"$ref": REF.format(model="ErrorOut")}}},
        }
    if endpoint.public:
        operation["security"] = []
    return operation


def _content(endpoint: Endpoint, schemas: dict[str, Any]) -> dict[str, Any]:
    if endpoint.response is not None:
        ref = _collect(endpoint.response, "serialization", schemas)
        return {"content": {"application/json": {"schema": ref}}}
    if endpoint.content_type == "text/html":
        return {"content": {"text/html": {"schema": {"type": "string"}}}}
    return {"content": {"application/json": {"schema": {"type": "object"}}}}


def _collect(
    model: type[BaseModel], mode: str, schemas: dict[str, Any], inline: bool = False
) -> dict[str, Any]:
    """Add `model` and what it references to components; return a $ref (or the schema)."""
    schema = model.model_json_schema(ref_template=REF, mode=mode)  # type: ignore[arg-type]
    for name, definition in schema.pop("$defs", {}).items():
        schemas.setdefault(name, definition)
    if inline:
        return schema
    schemas.setdefault(model.__name__, schema)
    return {"$ref": REF.format(model=model.__name__)}
