"""A real HTTP reverse proxy in front of Radicale for behaviours Radicale itself cannot show.

- `without_sync=True` makes the server look like an older CalDAV server without RFC 6578:
  sync-collection REPORTs are refused (403 DAV:supported-report) and DAV:sync-token and the
  report are hidden from PROPFIND answers, so a client must fall back to ctag/ETags.
- `refuse_free_busy=True` answers free-busy-query REPORTs with 403, as servers without
  RFC 4791 §7.10 support do.
- `bearer=(token, user, password)` accepts `Authorization: Bearer <token>` and forwards it as
  Basic auth, to exercise bearer-token clients against Radicale (which has no bearer auth).
- `redirect_no_slash=True` answers PROPFIND/REPORT on a collection path without its trailing
  slash with 301 to the slashed path, as some servers do.
- `fail_next` answers that many requests with `fail_status` before recovering.
- `rewrite_multistatus` transforms every 207 body on its way back (a hostile server).
- It counts requests per (method, path) and the highest number of requests in flight at once
  per path, so tests can check that a collection is never fetched twice concurrently.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from tests.servers.radicale import free_port

_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "host",
    "content-encoding",
    "accept-encoding",
}  # plain bodies, so they can be edited


@dataclass
class DavProxy:
    upstream: str
    without_sync: bool = False
    port: int = field(default_factory=free_port)
    requests: Counter[tuple[str, str]] = field(default_factory=Counter)
    in_flight: Counter[str] = field(default_factory=Counter)
    max_in_flight: Counter[str] = field(default_factory=Counter)
    delay: float = 0.0  # seconds added to REPORTs, to widen any race window
    refuse_free_busy: bool = False
    bearer: tuple[str, str, str] | None = None
    fail_next: int = 0
    redirect_no_slash: bool = False
    fail_status: int = 503
    rewrite_multistatus: Callable[[bytes], bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls, upstream: str, **options: Any) -> AsyncIterator[DavProxy]:
        proxy = cls(upstream=upstream, **options)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", proxy._handle)
        runner = web.AppRunner(app)
        await runner.setup()
        try:
            async with aiohttp.ClientSession(auto_decompress=False) as session:
                proxy._session = session
                site = web.TCPSite(runner, "127.0.0.1", proxy.port)
                await site.start()
                yield proxy
        finally:
            await runner.cleanup()

    _session: aiohttp.ClientSession | None = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        path = request.path
        self.requests[(request.method, path)] += 1
        if self.without_sync and request.method == "REPORT" and b"sync-collection" in body:
            return web.Response(
                status=403,
                content_type="application/xml",
                text='<?xml version="1.0"?><D:error xmlns:D="DAV:"><D:supported-report/></D:error>',
            )
        if (
            self.redirect_no_slash
            and request.method in ("PROPFIND", "REPORT")
            and not path.endswith(("/", ".ics"))
        ):
            return web.Response(status=301, headers={"Location": path + "/"})
        if self.fail_next > 0:
            self.fail_next -= 1
            return web.Response(status=self.fail_status, text="temporarily broken")
        if self.refuse_free_busy and request.method == "REPORT" and b"free-busy-query" in body:
            return web.Response(status=403, text="free-busy-query not supported")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        headers["Accept-Encoding"] = "identity"
        if self.bearer is not None:
            token, user, password = self.bearer
            if headers.get("Authorization") != f"Bearer {token}":
                return web.Response(status=401, headers={"WWW-Authenticate": "Bearer"})
            headers["Authorization"] = aiohttp.encode_basic_auth(user, password)
        self.in_flight[path] += 1
        self.max_in_flight[path] = max(self.max_in_flight[path], self.in_flight[path])
        try:
            if self.delay and request.method == "REPORT":
                await asyncio.sleep(self.delay)
            assert self._session is not None
            async with self._session.request(
                request.method,
                self.upstream + request.path_qs,
                data=body,
                headers=headers,
                allow_redirects=False,
            ) as upstream:
                data = await upstream.read()
                out_headers = {
                    k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP
                }
                status = upstream.status
        finally:
            self.in_flight[path] -= 1
        if self.without_sync and request.method == "PROPFIND":
            data = _hide_sync(data)
        if self.rewrite_multistatus is not None and status == 207:
            data = self.rewrite_multistatus(data)
        return web.Response(status=status, body=data, headers=out_headers)


def _hide_sync(data: bytes) -> bytes:
    text = data.decode("utf-8")
    text = re.sub(r"<sync-token>[^<]*</sync-token>", "", text)
    text = re.sub(
        r"<supported-report>\s*<report>\s*<sync-collection\s*/>\s*</report>\s*"
        r"</supported-report>",
        "",
        text,
    )
    return text.encode("utf-8")
