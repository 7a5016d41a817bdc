"""Feed secrets never leave the process: not in a log line, the admin API or the status page.

A real loopback HTTP server serves feeds whose addresses carry secrets (query token, userinfo
password, a `webcal://` address) and answers with failures and redirects to other secret
addresses. The whole service runs against a real Prosody; every log line (JSON, as in
production) and every admin GET endpoint is searched for every secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
import structlog
from aiohttp import web

from samtek.admin.api import ENDPOINT_TABLE
from samtek.app import Service
from samtek.config import load_config
from samtek.devserver.prosody import ProsodyServer
from samtek.logging import configure_logging
from samtek.model import calendar_address
from samtek.plugin import discover_connectors
from samtek.redact import redact_text, redact_url

SECRETS = {name: f"Zq{secrets.token_hex(12)}" for name in "ABCDEFGH"}


@pytest.fixture
async def feed_server() -> AsyncIterator[int]:
    """Redirects twice (the second time to a `webcal://` address), and fails."""
    s = SECRETS
    app = web.Application()
    port = 0

    async def first(request: web.Request) -> web.Response:
        target = f"http://127.0.0.1:{port}/private-{s['B']}/next.ics?token={s['C']}"
        raise web.HTTPFound(target)

    async def second(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"webcal://feeds.example:{port}/cal.ics?sig={s['D']}")

    async def broken(request: web.Request) -> web.Response:
        # A server echoing the request URL in its error body, as some do.
        return web.Response(status=500, text=f"failed: {request.url}")

    app.router.add_get("/first.ics", first)
    app.router.add_get(f"/private-{s['B']}/next.ics", second)
    app.router.add_get("/broken.ics", broken)
    runner = web.AppRunner(app, access_log=None)  # its log is the test's, not SAMTEK's
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield port
    finally:
        await runner.cleanup()


@contextlib.contextmanager
def json_logs_at_debug() -> Iterator[None]:
    """Production logging for the test's duration; the suite's own set-up afterwards."""
    root = logging.getLogger()
    handlers, level, config = list(root.handlers), root.level, structlog.get_config()
    configure_logging("debug", json=True)
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        structlog.configure(**config)


def lines_with(text: str, secret: str) -> list[str]:
    return [line[:300] for line in text.splitlines() if secret in line]


def write_config(directory: Path, prosody: ProsodyServer, port: int) -> tuple[Path, str]:
    s = SECRETS
    (directory / "component.secret").write_text(prosody.component_secret)
    read_token = secrets.token_urlsafe(24)
    (directory / "read.token").write_text(read_token)
    feeds = {
        "kari": f"http://127.0.0.1:{port}/first.ics?token={s['A']}",
        "ola": f"webcal://feed:{s['E']}@127.0.0.1:{port}/cal.ics?token={s['F']}",
        "per": f"http://127.0.0.1:{port}/broken.ics?access_token={s['G']}&x={s['H']}",
    }
    people = "".join(
        f"""
[[people]]
id = "{name}"
jid = "{prosody.jid(name)}"
name = "{name.title()}"
municipality = "kongsberg"
calendars = [{{ address = "{address}" }}]
"""
        for name, address in feeds.items()
    )
    path = directory / "samtek.toml"
    path.write_text(
        f"""
[xmpp]
domain = "{prosody.domain}"
component_jid = "{prosody.component_jid}"
component_secret = "file:{directory / "component.secret"}"
port = {prosody.component_port}

[store]
url = "sqlite:///{directory}/state.db"

[http]
port = 0

[admin]
public_status = true
tokens = [{{ name = "viewer", token = "file:{directory / "read.token"}", role = "read" }}]

[[municipalities]]
id = "kongsberg"
name = "Kongsberg kommune"
calendar = "feeds"

[connectors.feeds]
type = "ical"
refresh_interval = 1
timeout = 5
{people}
"""
    )
    return path, read_token


async def wait_for_feed_errors(service: Service, count: int) -> dict[str, str]:
    async with asyncio.timeout(20):
        while True:
            errors = service.supervisor.health()["connector:feeds"].snapshot().item_errors
            if len(errors) >= count:
                return errors
            await asyncio.sleep(0.05)


async def every_admin_answer(base: str, token: str, people: list[str]) -> str:
    """The bodies of every GET route of the admin API, with and without the read token."""
    paths = ["/metrics"]
    for endpoint in ENDPOINT_TABLE:
        if endpoint.method != "GET":
            continue
        if "{id}" in endpoint.path:
            paths += [f"/admin{endpoint.path.replace('{id}', p)}" for p in people]
        elif "{" not in endpoint.path:
            paths.append(f"/admin{endpoint.path}")
    bodies = []
    async with aiohttp.ClientSession() as session:
        for path in paths:
            for headers in ({}, {"Authorization": f"Bearer {token}"}):
                async with session.get(base + path, headers=headers) as response:
                    bodies.append(f"{path} {response.status}: {await response.text()}")
    return "\n".join(bodies)


async def test_feed_secrets_reach_no_log_line_admin_endpoint_or_status_page(
    prosody: ProsodyServer,
    feed_server: int,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    for name in ("kari", "ola", "per"):
        prosody.add_user(name, "pw")
    await prosody.start()
    path, read_token = write_config(tmp_path, prosody, feed_server)
    with json_logs_at_debug():
        types = discover_connectors()
        service = Service(load_config(path, types), connector_types=types)
        ready = asyncio.Event()
        task = asyncio.create_task(service.run(ready))
        try:
            await asyncio.wait_for(ready.wait(), 15)
            await asyncio.wait_for(service.web.wait_started(), 10)
            errors = await wait_for_feed_errors(service, 3)
            answers = await every_admin_answer(
                service.web.admin_url, read_token, ["kari", "ola", "per"]
            )
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    logs = capfd.readouterr().err
    assert "item failing" in logs and '"level"' in logs  # the JSON log was captured
    assert "/admin/status 200" in answers and "/admin/people 200" in answers
    for name, secret in SECRETS.items():
        assert not lines_with(logs, secret), f"secret {name} in the log"
        assert not lines_with(answers, secret), f"secret {name} in an admin answer"
        assert secret not in json.dumps(errors), f"secret {name} in health"
    # Still useful: each failing feed is named by host and readable path.
    assert "127.0.0.1" in errors["kari"] and "first.ics" in errors["kari"]
    assert "broken.ics" in errors["per"] and "500" in errors["per"]
    assert errors["ola"].startswith(f"https://***@127.0.0.1:{feed_server}/cal.ics")


def test_webcal_is_fetched_as_https() -> None:
    assert calendar_address(" webcal://h.example/a.ics?t=1") == "https://h.example/a.ics?t=1"
    assert calendar_address("WEBCALS://h.example/a.ics") == "https://h.example/a.ics"
    assert calendar_address("/srv/feeds/a.ics") == "/srv/feeds/a.ics"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("https://u:pw-Zq1@h.example/cal.ics", "pw-Zq1"),
        ("see https://h.example/a.ics?token=Zq2&other=Zq3.", "Zq2"),
        ("see https://h.example/a.ics?token=Zq2&other=Zq3.", "Zq3"),
        ("https://calendar.google.com/calendar/ical/x%40y/private-abcdef/basic.ics", "abcdef"),
        ("https://outlook.office365.com/owa/calendar/ab/0123456789abcdef0123/calendar.ics",
         "0123456789abcdef0123"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.Zq4", "Zq4"),
        ('refused: {"client_secret": "Zq5"}', "Zq5"),
        ("password=Zq6 user=x", "Zq6"),
        ("https://h.example/a.ics#key=Zq7", "Zq7"),
        ("cannot fetch feeds.example/x.ics?k=Zq8", "Zq8"),
        ("https://h.example/feeds/aB3dE5fG7hJ9kL1m.ics", "aB3dE5fG7hJ9kL1m"),
        ("https://h.example/r?next=https%3A%2F%2Fx%2F%3Ftoken%3DZq9", "Zq9"),
    ],
)  # fmt: skip
def test_redaction_masks(text: str, secret: str) -> None:
    assert secret not in redact_text(text)


def test_redaction_keeps_what_names_the_feed() -> None:
    assert redact_url("https://h.example:8443/feeds/kari.ics?t=1") == (
        "https://h.example:8443/feeds/kari.ics?t=***"
    )
    assert redact_text("HTTP 404 from http://h.example/a.ics") == (
        "HTTP 404 from http://h.example/a.ics"
    )
