"""Schemathesis against a running admin API, as its own process.

Usage: python -m tests.admin.openapi_fuzz BASE_URL  (the Authorization header comes from
the SAMTEK_FUZZ_AUTHORIZATION environment variable, so the token is not on a command line).
Prints one JSON object: {"operations": N, "failures": [...]}.

Why a process and not a worker thread: pytest rewrites the asserts of every module of a
pytest plugin, schemathesis included, when it is first imported. Schemathesis imports most of
itself lazily, so in a thread those rewrites parse source off the main thread, and CPython
3.11.7's AST converter keeps its recursion depth in interpreter-wide state (gh-106905): a
parse racing another fails with "SystemError: AST constructor recursion depth mismatch".
CI hit exactly that. A plain child process imports schemathesis without pytest at all.
"""

from __future__ import annotations

import json
import os
import sys
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
        except Exception as exc:  # noqa: BLE001 - collect all operations' failures, report once
            failures.append(f"{operation.label}: {exc}")
    return operations, failures


def main() -> None:
    headers = {"Authorization": os.environ["SAMTEK_FUZZ_AUTHORIZATION"]}
    operations, failures = fuzz(sys.argv[1], headers)
    print(json.dumps({"operations": operations, "failures": failures}))


if __name__ == "__main__":
    main()
