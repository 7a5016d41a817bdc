"""Schemathesis against the served OpenAPI document: no 500s, responses match the spec.

Schemathesis' Python API drives `requests` (blocking), so it runs in a child process
(`tests/admin/openapi_fuzz.py`, which says why not a thread) while the service keeps
serving on this test's event loop.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from tests.admin.conftest import AdminRegion

REPOSITORY = Path(__file__).resolve().parents[2]


async def fuzz(base: str, headers: dict[str, str]) -> tuple[int, list[str]]:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.admin.openapi_fuzz",
        base,
        cwd=REPOSITORY,
        env={**os.environ, "SAMTEK_FUZZ_AUTHORIZATION": headers["Authorization"]},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await child.communicate()
    assert child.returncode == 0, err.decode(errors="replace")[-4000:]
    report = json.loads(out.decode().strip().splitlines()[-1])
    return report["operations"], report["failures"]


async def test_schemathesis_finds_no_server_errors(admin_region: AdminRegion) -> None:
    for headers in (admin_region.admin, admin_region.reader):
        operations, failures = await fuzz(admin_region.base, headers)
        assert operations >= 10
        assert not failures, "\n\n".join(failures)
