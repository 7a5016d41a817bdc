"""The service's one HTTP server (admin API, status page, metrics, room ICS feeds, webhooks).

Features do not start servers of their own: each contributes an aiohttp sub-application or
routes through `WebServer.mount()` before start, and the supervisor runs the server.
"""

from __future__ import annotations

import asyncio

import structlog
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from samtek.health import HealthReporter

log = structlog.get_logger("samtek.web")


class HttpSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    host: str = "127.0.0.1"
    port: int = Field(8480, ge=0, le=65535)  # 0: any free port (tests)
    public_url: str | None = None  # how members reach it, for links in invitations/feeds


class WebServer:
    def __init__(self, settings: HttpSection, health: HealthReporter) -> None:
        self.settings = settings
        self.health = health
        self.app = web.Application(client_max_size=1024 * 1024)
        self.port: int | None = None  # the bound port once running
        self._started = asyncio.Event()

    def mount(self, prefix: str, subapp: web.Application) -> None:
        """Serve `subapp` under `prefix` (e.g. "/admin", "/rooms")."""
        self.app.add_subapp(prefix, subapp)

    def add_routes(self, routes: web.RouteTableDef) -> None:
        self.app.add_routes(routes)

    @property
    def base_url(self) -> str:
        if self.settings.public_url:
            return self.settings.public_url.rstrip("/")
        return f"http://{self.settings.host}:{self.port}"

    async def wait_started(self) -> None:
        await self._started.wait()

    async def run(self) -> None:
        runner = web.AppRunner(self.app, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.settings.host, self.settings.port)
            await site.start()
            server = site._server
            sockets = getattr(server, "sockets", None) or []
            self.port = sockets[0].getsockname()[1] if sockets else self.settings.port
            log.info("http listening", host=self.settings.host, port=self.port)
            self.health.success()
            self._started.set()
            await asyncio.Event().wait()
        finally:
            self._started.clear()
            await runner.cleanup()
