"""Without [admin] public_status the status page needs a token like the JSON API."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestServer

from samtek.admin.api import build_admin_app
from samtek.admin.config import AdminSection
from samtek.admin.context import AdminContext
from samtek.bus import Bus
from samtek.directory import DirectoryService
from samtek.runtime.supervisor import Supervisor
from samtek.store import open_store
from samtek.store.audit import AuditLog

TOKEN = "a-read-only-token-for-the-status-page"


async def test_status_page_needs_a_token_unless_public(tmp_path: Path) -> None:
    (tmp_path / "read.token").write_text(TOKEN)
    settings = AdminSection.model_validate(
        {"tokens": [{"name": "wall", "token": f"file:{tmp_path / 'read.token'}"}]}
    )
    async with open_store(f"sqlite:///{tmp_path}/state.db") as store:
        ctx = AdminContext(
            settings=settings,
            supervisor=Supervisor(),
            directory=DirectoryService({}, [], Bus()),
            audit=AuditLog(store.db),
        )
        server = TestServer(build_admin_app(ctx), host="127.0.0.1")
        await server.start_server()
        try:
            url = str(server.make_url("/status"))
            async with aiohttp.ClientSession() as http:
                async with http.get(url) as response:
                    assert response.status == 401
                headers = {"Authorization": f"Bearer {TOKEN}"}
                async with http.get(url, headers=headers) as response:
                    assert response.status == 200
                    assert response.content_type == "text/html"
                    assert "People: 0" in await response.text()
                async with http.get(str(server.make_url("/health")), headers=headers) as r:
                    assert r.status == 200  # no core part supervised: nothing not ready
        finally:
            await server.close()
