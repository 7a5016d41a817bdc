"""The service's HTTP server: a public listener and an admin listener, bound separately.

Public (`[http] host`/`port`): what outsiders must reach — webhooks from a cloud PBX, room ICS
feeds (each request proves itself with a signature or a secret token). Admin
(`[http] admin_host`/`admin_port`, loopback by default): the admin API, its OpenAPI document,
the health probes, the status page and /metrics. A route mounted on one listener does not exist
on the other (404), so opening the public port to the internet does not open the admin side.

Features do not start servers of their own: each contributes an aiohttp sub-application
through `mount()` / `mount_admin()` before start, with the largest request body it accepts;
the supervisor runs the server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web
from aiohttp.typedefs import Middleware
from pydantic import BaseModel, ConfigDict, Field, model_validator

from samtek.health import HealthReporter

log = structlog.get_logger("samtek.web")

# Routes on the listeners themselves (/metrics): GETs, nothing to upload.
ROOT_MAX_BODY = 16 * 1024
DEFAULT_ADMIN_PORT = 8481

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class HttpSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    host: str = "127.0.0.1"  # the public listener: webhooks, room feeds
    port: int = Field(8480, ge=0, le=65535)  # 0: any free port (tests)
    admin_host: str = "127.0.0.1"  # the admin listener: /admin/*, /metrics
    # Default 8481; 0: any free port. Unset while port = 0 (tests): also any free port.
    admin_port: int | None = Field(None, ge=0, le=65535)
    public_url: str | None = None  # how members reach it, for links in invitations/feeds

    @model_validator(mode="after")
    def _separate(self) -> HttpSection:
        wildcard = {"", "0.0.0.0", "::"}
        overlap = self.admin_host == self.host or {self.admin_host, self.host} & wildcard
        if self.port != 0 and self.admin_bind_port == self.port and overlap:
            raise ValueError(
                "admin_port: the admin listener must not share host and port with the public"
                " one (set [http] admin_port to another port)"
            )
        return self

    @property
    def admin_bind_port(self) -> int:
        if self.admin_port is not None:
            return self.admin_port
        return 0 if self.port == 0 else DEFAULT_ADMIN_PORT


def body_limit(max_bytes: int) -> Middleware:
    """Middleware: refuse a body over `max_bytes` with 413, before reading it.

    aiohttp applies only the top-level application's `client_max_size`, never a
    sub-application's, so each sub-application enforces its own: a declared Content-Length
    is refused at once; a chunked body is read at most to the limit.
    """
    if max_bytes < 1:
        raise ValueError("max_bytes must be at least 1 (aiohttp reads 0 as no limit)")

    @web.middleware
    async def limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        declared = request.content_length
        if declared is not None and declared > max_bytes:
            return too_large(request, max_bytes, declared)
        try:
            return await handler(request.clone(client_max_size=max_bytes))
        except web.HTTPRequestEntityTooLarge:  # chunked: read() stopped at the limit
            return too_large(request, max_bytes, None)

    return limit


def too_large(request: web.Request, max_bytes: int, declared: int | None) -> web.Response:
    log.warning(
        "request body too large",
        path=request.path[:200],
        remote=request.remote,
        declared=declared,
        limit=max_bytes,
    )
    return web.json_response({"error": f"request body over {max_bytes} bytes"}, status=413)


class WebServer:
    def __init__(self, settings: HttpSection, health: HealthReporter) -> None:
        self.settings = settings
        self.health = health
        self.public = web.Application(client_max_size=ROOT_MAX_BODY)
        self.admin = web.Application(client_max_size=ROOT_MAX_BODY)
        self.port: int | None = None  # the bound public port once running
        self.admin_port: int | None = None  # the bound admin port once running
        self._started = asyncio.Event()

    def mount(self, prefix: str, subapp: web.Application, *, max_body_bytes: int) -> None:
        """Serve `subapp` under `prefix` on the public listener (e.g. "/rooms", "/webhooks/x")."""
        self._attach(self.public, prefix, subapp, max_body_bytes)

    def mount_admin(self, prefix: str, subapp: web.Application, *, max_body_bytes: int) -> None:
        """Serve `subapp` under `prefix` on the admin listener (e.g. "/admin")."""
        self._attach(self.admin, prefix, subapp, max_body_bytes)

    def add_admin_routes(self, routes: web.RouteTableDef) -> None:
        self.admin.add_routes(routes)

    @staticmethod
    def _attach(
        root: web.Application, prefix: str, subapp: web.Application, max_body_bytes: int
    ) -> None:
        subapp.middlewares.insert(0, body_limit(max_body_bytes))  # outermost: before auth
        root.add_subapp(prefix, subapp)

    @property
    def base_url(self) -> str:
        """The public listener, as members and callers reach it."""
        if self.settings.public_url:
            return self.settings.public_url.rstrip("/")
        return f"http://{_url_host(self.settings.host)}:{self.port}"

    @property
    def admin_url(self) -> str:
        return f"http://{_url_host(self.settings.admin_host)}:{self.admin_port}"

    async def wait_started(self) -> None:
        await self._started.wait()

    async def run(self) -> None:
        runners: list[web.AppRunner] = []
        try:
            self.port = await _serve(self.public, self.settings.host, self.settings.port, runners)
            self.admin_port = await _serve(
                self.admin, self.settings.admin_host, self.settings.admin_bind_port, runners
            )
            log.info(
                "http listening",
                public=f"{self.settings.host}:{self.port}",
                admin=f"{self.settings.admin_host}:{self.admin_port}",
            )
            self.health.success()
            self._started.set()
            await asyncio.Event().wait()
        finally:
            self._started.clear()
            for runner in reversed(runners):
                await runner.cleanup()


async def _serve(app: web.Application, host: str, port: int, runners: list[web.AppRunner]) -> int:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    runners.append(runner)
    site = web.TCPSite(runner, host, port)
    await site.start()
    sockets = getattr(site._server, "sockets", None) or []
    return int(sockets[0].getsockname()[1]) if sockets else port


def _url_host(host: str) -> str:
    """A bind address as a URL host: wildcards become loopback, IPv6 gets brackets."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host
