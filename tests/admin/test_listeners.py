"""Public and admin routes on separately bound listeners, and the admin API's body limit.

On the real service (real Prosody, real HTTP server): the listener meant to be opened to the
internet (webhooks, room feeds) must not answer the admin side at all, token or not.
"""

from __future__ import annotations

import aiohttp
import pytest
from pydantic import ValidationError

from samtek.web import HttpSection
from tests.admin.conftest import AdminRegion
from tests.rawhttp import status_after_partial_body, status_of_chunked

ADMIN_SIDE = ("/metrics", "/admin/health", "/admin/health/live", "/admin/openapi.json",
              "/admin/status", "/admin/people")  # fmt: skip


async def test_public_listener_does_not_serve_the_admin_side(admin_region: AdminRegion) -> None:
    web = admin_region.service.web
    public = f"http://127.0.0.1:{web.port}"
    async with aiohttp.ClientSession() as http:
        for path in ADMIN_SIDE:
            async with http.get(public + path, headers=admin_region.admin) as response:
                assert response.status == 404, path
        # ...which the admin listener serves, on its own port.
        assert web.admin_port not in (None, web.port)
        for path in ADMIN_SIDE:
            async with http.get(web.admin_url + path, headers=admin_region.admin) as response:
                assert response.status == 200, path


def test_admin_listener_is_loopback_unless_configured() -> None:
    assert HttpSection(host="0.0.0.0").admin_host == "127.0.0.1"
    assert HttpSection(host="0.0.0.0").admin_bind_port == 8481
    assert HttpSection(port=0).admin_bind_port == 0  # tests: any free port for both
    for clash in ({"host": "0.0.0.0", "admin_port": 8480}, {"port": 8481}):
        with pytest.raises(ValidationError, match="must not share host and port"):
            HttpSection.model_validate(clash)
    assert HttpSection(host="10.0.0.5", admin_port=8480).admin_bind_port == 8480


async def test_admin_body_over_the_limit_is_refused_unread(admin_region: AdminRegion) -> None:
    """The admin sub-app's client_max_size (256 KB) was ignored: a 700 KB body was parsed."""
    resync = admin_region.base + "/admin/resync"
    async with aiohttp.ClientSession() as http:
        big = b'{"connectors": [' + b'"x",' * 175_000 + b'"x"]}'  # 700 KB
        async with http.post(resync, data=big, headers=admin_region.admin) as response:
            assert response.status == 413
            limit = admin_region.service.config.file.admin.max_body_bytes
            assert (await response.json())["error"] == f"request body over {limit} bytes"
    auth = admin_region.admin
    assert await status_after_partial_body(resync, 700_000, b"{" * 1024, auth) == 413
    assert await status_of_chunked(resync, 700_000, auth) == 413
    # Without a token the answer is 401, and nothing reads the body either.
    assert await status_of_chunked(resync, 700_000) == 401
