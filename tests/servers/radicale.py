"""A real Radicale 3 CalDAV server for tests: temp dir, free port, plain htpasswd users.

`async with RadicaleServer.running(users) as server:` starts it, waits until it answers and
stops it again, also when the test fails. Radicale's own log goes to `server.log_path`;
`server.log_lines()` lets tests check which requests (e.g. sync-collection REPORTs) it saw.

Rights: every user owns `/<user>/...`; the user `service_user` (the connector's account) may
read and write every calendar, as a CalDAV service account would on a real deployment.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import shutil
import socket
import sys
import tempfile
import textwrap
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from tests.fakes.tls import make_cert

RADICALE_MODULE = "radicale"
START_TIMEOUT = 20.0
STOP_GRACE = 3.0


class RadicaleMissing(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _check_installed() -> None:
    # Radicale runs as `sys.executable -m radicale`, so this interpreter must have it.
    if importlib.util.find_spec(RADICALE_MODULE) is None:
        raise RadicaleMissing(
            f"Radicale is not installed for {sys.executable}: `pip install 'radicale>=3.2'` "
            "(PyPI package 'radicale', in the project's test extras)"
        )


@dataclass
class RadicaleServer:
    root: Path
    port: int
    users: Mapping[str, str]
    service_user: str
    tls: bool = False
    process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def certificate(self) -> Path:
        """The self-signed certificate (for 127.0.0.1) when started with tls=True."""
        return self.root / "cert.pem"

    @property
    def log_path(self) -> Path:
        return self.root / "radicale.log"

    def log_lines(self) -> list[str]:
        return self.log_path.read_text(errors="replace").splitlines()

    def calendar_url(self, user: str, calendar: str = "calendar") -> str:
        return f"{self.url}/{user}/{calendar}/"

    def principal_url(self, user: str) -> str:
        return f"{self.url}/{user}/"

    @classmethod
    @contextlib.asynccontextmanager
    async def running(
        cls, users: Mapping[str, str], service_user: str = "samtek", tls: bool = False
    ) -> AsyncIterator[RadicaleServer]:
        _check_installed()
        root = Path(tempfile.mkdtemp(prefix="radicale-"))
        server = cls(root=root, port=free_port(), users=users, service_user=service_user, tls=tls)
        try:
            if tls:
                server._make_certificate()
            server._write_config()
            await server._start()
            yield server
        finally:
            await server._stop()
            shutil.rmtree(root, ignore_errors=True)

    def _make_certificate(self) -> None:
        cert, key = make_cert(self.root)
        cert.rename(self.certificate)
        key.rename(self.root / "key.pem")

    def _write_config(self) -> None:
        (self.root / "users").write_text(
            "".join(f"{user}:{password}\n" for user, password in self.users.items())
        )
        # First matching section wins.
        (self.root / "rights").write_text(
            textwrap.dedent(
                f"""\
                [service]
                user: {self.service_user}
                collection: .*
                permissions: RrWw

                [root]
                user: .+
                collection:
                permissions: R

                [principal]
                user: .+
                collection: {{user}}
                permissions: RW

                [calendars]
                user: .+
                collection: {{user}}/[^/]+
                permissions: rw
                """
            )
        )
        (self.root / "config").write_text(
            textwrap.dedent(
                f"""\
                [server]
                hosts = 127.0.0.1:{self.port}
                delay_on_error = 0
                ssl = {self.tls}
                certificate = {self.certificate}
                key = {self.root / "key.pem"}
                [auth]
                type = htpasswd
                htpasswd_filename = {self.root / "users"}
                htpasswd_encryption = plain
                delay = 0
                [rights]
                type = from_file
                file = {self.root / "rights"}
                [storage]
                filesystem_folder = {self.root / "collections"}
                [logging]
                level = info
                """
            )
        )

    async def _start(self) -> None:
        with self.log_path.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                RADICALE_MODULE,
                "--config",
                str(self.root / "config"),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT
        async with aiohttp.ClientSession() as session:
            while True:
                if self.process.returncode is not None:
                    raise RuntimeError(
                        f"radicale exited with {self.process.returncode} during start; "
                        f"log:\n{self.log_path.read_text(errors='replace')[-3000:]}"
                    )
                try:
                    async with session.get(f"{self.url}/.web/", ssl=False) as response:
                        if response.status < 500:
                            return
                except aiohttp.ClientConnectionError:
                    pass  # not listening yet
                if loop.time() > deadline:
                    raise RuntimeError(
                        f"radicale did not answer on {self.url} within "
                        f"{START_TIMEOUT}s; log in {self.log_path}"
                    )
                await asyncio.sleep(0.1)

    async def _stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            # A worker thread stuck in a recurrence expansion delays a clean exit: kill soon.
            await asyncio.wait_for(process.wait(), STOP_GRACE)
        except TimeoutError:
            process.kill()
            await process.wait()

    # --- raw CalDAV helpers (as a user's own client would write) --------------------------

    def _auth(self, user: str) -> dict[str, str]:
        return {"Authorization": aiohttp.encode_basic_auth(user, self.users[user])}

    async def make_calendar(self, user: str, calendar: str = "calendar") -> str:
        url = self.calendar_url(user, calendar)
        body = (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
            f"<D:set><D:prop><D:displayname>{calendar}</D:displayname>"
            '<C:supported-calendar-component-set><C:comp name="VEVENT"/>'
            "</C:supported-calendar-component-set></D:prop></D:set></C:mkcalendar>"
        )
        await self._request(
            "MKCALENDAR", url, user, body, {"Content-Type": "application/xml"}, expect=(201,)
        )
        return url

    async def put_event(self, user: str, calendar_url: str, uid: str, ics: str) -> str:
        url = f"{calendar_url}{uid}.ics"
        await self._request(
            "PUT", url, user, ics, {"Content-Type": "text/calendar"}, expect=(201, 204)
        )
        return url

    async def delete_event(self, user: str, calendar_url: str, uid: str) -> None:
        await self._request("DELETE", f"{calendar_url}{uid}.ics", user, None, {}, expect=(200, 204))

    async def get(self, user: str, url: str) -> str:
        return await self._request("GET", url, user, None, {}, expect=(200,))

    async def _request(
        self,
        method: str,
        url: str,
        user: str,
        body: str | None,
        headers: Mapping[str, str],
        expect: tuple[int, ...],
    ) -> str:
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                method, url, data=body, headers={**self._auth(user), **headers}, ssl=False
            ) as response,
        ):
            text = await response.text()
            if response.status not in expect:
                raise AssertionError(f"{method} {url} as {user}: {response.status} {text[:500]}")
            return text


def simple_event(
    uid: str, start: str, end: str, summary: str = "Meeting", tz: str = "UTC", extra: str = ""
) -> str:
    """A one-VEVENT calendar; start/end as 'YYYYMMDDTHHMMSS' (UTC if tz == 'UTC')."""
    if tz == "UTC":
        dtstart, dtend = f"DTSTART:{start}Z", f"DTEND:{end}Z"
    else:
        dtstart, dtend = f"DTSTART;TZID={tz}:{start}", f"DTEND;TZID={tz}:{end}"
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//samtek tests//EN",
        "BEGIN:VEVENT",
        f"UID:{uid}",
        "DTSTAMP:20260101T000000Z",
        dtstart,
        dtend,
        f"SUMMARY:{summary}",
        *([extra] if extra else []),
        "END:VEVENT",
        "END:VCALENDAR",
        "",
    ]
    return "\r\n".join(lines)
