"""Schemathesis against the served OpenAPI document: no 500s, responses match the spec.

Schemathesis' Python API drives `requests` (blocking), so it runs in a worker thread while
the service keeps serving on this test's event loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.admin.conftest import AdminRegion

EXAMPLES = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _short_waits(case: Any) -> Any:
    """A resync of the unreachable LDAP never finishes: do not wait up to a minute for it."""
    if isinstance(case.body, dict) and "wait_seconds" in case.body:
        wait = case.body["wait_seconds"]
        if isinstance(wait, int | float) and not isinstance(wait, bool):
            case.body["wait_seconds"] = min(wait, 0.2)
    elif case.method == "POST" and isinstance(case.body, dict):
        case.body["wait_seconds"] = 0.1
    return case


def fuzz(base: str, headers: dict[str, str]) -> tuple[int, list[str]]:
    schema = schemathesis.openapi.from_url(f"{base}/admin/openapi.json")
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            failures.append(f"invalid operation in the spec: {result.err()}")
            continue
        operation = result.ok()
        operations += 1

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy().map(_short_waits))
        def check(case: Any) -> None:
            response = case.call(base_url=base, headers=headers, timeout=30)
            case.validate_response(response, checks=CHECKS)

        try:
            check()
        except Exception as exc:  # noqa: BLE001 - collect all operations. failures, report once
            failures.append(f"{operation.label}: {exc}")
    return operations, failures


async def test_schemathesis_finds_no_server_errors(admin_region: AdminRegion) -> None:
    for headers in (admin_region.admin, admin_region.reader):
        operations, failures = await asyncio.to_thread(fuzz, admin_region.base, headers)
        assert operations >= 10
        assert not failures, "\n\n".join(failures)
