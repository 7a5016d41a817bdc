"""A real SIP test peer: Kamailio (registrar/proxy/dialog presence) and baresip UAs.

Installs nothing: it fails loudly naming the apt packages if a binary is missing. Everything
runs on 127.0.0.1 from a temp dir, on free ports, and `stop()` ends every process it started.
Config templates are in tests/servers/sip_templates/ (derived from the measured notes in
/work/shared/notes/telephony-peer/).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

APT_PACKAGES = (
    "kamailio kamailio-presence-modules kamailio-extra-modules kamailio-utils-modules baresip-core"
)
TEMPLATES = Path(__file__).with_name("sip_templates")
KAMAILIO_MODULES = Path("/usr/lib/x86_64-linux-gnu/kamailio/modules")
BARESIP_MODULES = Path("/usr/lib/baresip/modules")
DBTEXT_SOURCE = Path("/usr/share/kamailio/dbtext/kamailio")
DBTEXT_TABLES = (
    "version",
    "presentity",
    "active_watchers",
    "watchers",
    "xcap",
    "pua",
    "subscriber",
)


def require_binaries() -> None:
    missing = [b for b in ("kamailio", "baresip") if shutil.which(b) is None]
    needed = [
        KAMAILIO_MODULES / "presence_dialoginfo.so",
        KAMAILIO_MODULES / "xhttp.so",
        BARESIP_MODULES / "ctrl_tcp.so",
        BARESIP_MODULES / "aubridge.so",
    ]
    missing += [str(p) for p in needed if not p.exists()]
    if missing:
        raise RuntimeError(
            f"SIP test peer needs {', '.join(missing)}: run "
            f"`apt-get install -y --no-install-recommends {APT_PACKAGES}`"
        )


_handed_out: set[int] = set()


def _port_free(port: int) -> bool:
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def free_ports(count: int) -> int:
    """First of `count` consecutive ports free for UDP and TCP.

    Taken below the kernel's ephemeral range (32768+) so sockets bound to port 0 elsewhere
    cannot take them between this check and the server's bind; never handed out twice.
    baresip needs blocks: it also binds TLS on its SIP port + 1.
    """
    for _ in range(200):
        base = random.randrange(20000, 32000 - count)
        block = range(base, base + count)
        if not _handed_out & set(block) and all(_port_free(p) for p in block):
            _handed_out.update(block)
            return base
    raise RuntimeError(f"no block of {count} free ports found on 127.0.0.1")


def _render(template: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        template = template.replace(f"@{key}@", value)
    return template


class BaresipUA:
    """Control of one baresip UA over ctrl_tcp (netstring-framed JSON)."""

    def __init__(self, name: str, user: str, ctrl_port: int, sip_port: int) -> None:
        self.name, self.user, self.ctrl_port, self.sip_port = name, user, ctrl_port, sip_port
        self.process: asyncio.subprocess.Process | None = None
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue(1000)
        self._responses: asyncio.Queue[dict[str, Any]] = asyncio.Queue(100)
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._token = 0

    async def connect(self) -> None:
        for _ in range(200):
            if self.process is not None and self.process.returncode is not None:
                raise RuntimeError(f"baresip {self.name} exited ({self.process.returncode})")
            try:
                reader, self._writer = await asyncio.open_connection("127.0.0.1", self.ctrl_port)
                break
            except OSError:
                await asyncio.sleep(0.05)
        else:
            raise RuntimeError(f"baresip {self.name}: ctrl_tcp 127.0.0.1:{self.ctrl_port} not up")
        self._reader_task = asyncio.create_task(self._read(reader))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while True:
            length = await reader.readuntil(b":")
            payload = await reader.readexactly(int(length[:-1]) + 1)  # + trailing ","
            msg = json.loads(payload[:-1])
            if msg.get("response"):
                await self._responses.put(msg)
            elif msg.get("event"):
                await self.events.put(msg)

    async def command(self, command: str, params: str = "") -> dict[str, Any]:
        if self._writer is None:
            raise RuntimeError(f"baresip {self.name} not connected")
        self._token += 1
        body = json.dumps({"command": command, "params": params, "token": str(self._token)})
        data = body.encode()
        self._writer.write(str(len(data)).encode() + b":" + data + b",")
        await self._writer.drain()
        resp = await asyncio.wait_for(self._responses.get(), 5)
        if not resp.get("ok", False):
            raise RuntimeError(f"baresip {self.name}: {command} {params} failed: {resp}")
        return resp

    async def wait_event(self, event_type: str, limit: float = 10) -> dict[str, Any]:
        """The next event of `event_type` (earlier events of other types are dropped)."""
        async with asyncio.timeout(limit):
            while True:
                event = await self.events.get()
                if event.get("type") == event_type:
                    return event

    async def dial(self, uri: str) -> None:
        await self.command("dial", uri)

    async def accept(self) -> None:
        await self.command("accept")

    async def hangup(self) -> None:
        await self.command("hangup")

    async def close(self) -> None:
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader_task
        if self._writer is not None:
            self._writer.close()
            self._writer = None


@dataclass
class SipPeer:
    """Kamailio + baresip UAs. `users` maps UA name -> extension."""

    users: dict[str, str] = field(default_factory=lambda: {"a": "1001", "b": "1002"})
    rundir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="samtek-sip-")))
    sip_port: int = field(default_factory=lambda: free_ports(2))
    http_port: int = field(default_factory=lambda: free_ports(1))
    uas: dict[str, BaresipUA] = field(default_factory=dict)
    kamailio: asyncio.subprocess.Process | None = None
    ring_timeout_ms: int = 20000  # Kamailio's fr_inv_timer: unanswered calls end with 408
    # If set, Kamailio challenges requests From these users (digest, realm 127.0.0.1).
    auth_users: dict[str, str] = field(default_factory=dict)
    _ports: dict[str, tuple[int, int, int]] = field(default_factory=dict)

    @property
    def domain(self) -> str:
        return f"127.0.0.1:{self.sip_port}"

    def uri(self, extension: str) -> str:
        return f"sip:{extension}@{self.domain}"

    async def start(self) -> None:
        require_binaries()
        for sub in ("run", "logs", "dbtext", "ua"):
            (self.rundir / sub).mkdir(exist_ok=True)
        await self.start_kamailio()
        for name, user in self.users.items():
            await self._start_ua(name, user)
        await self.wait_registered()

    async def start_kamailio(self) -> None:
        for table in DBTEXT_TABLES:
            shutil.copy(DBTEXT_SOURCE / table, self.rundir / "dbtext" / table)
        with (self.rundir / "dbtext" / "subscriber").open("a") as subscribers:
            for n, (user, password) in enumerate(self.auth_users.items(), start=1):
                # db_text refuses empty ha1/ha1b columns, so fill them although
                # calculate_ha1 makes Kamailio use the plain password column.
                ha1 = hashlib.md5(f"{user}:127.0.0.1:{password}".encode()).hexdigest()
                ha1b = hashlib.md5(f"{user}@127.0.0.1:127.0.0.1:{password}".encode()).hexdigest()
                subscribers.write(f"{n}:{user}:127.0.0.1:{password}:{ha1}:{ha1b}\n")
        defines = ["-A", "WITH_AUTH"] if self.auth_users else []
        values = {
            "RUNDIR": str(self.rundir),
            "SIP_PORT": str(self.sip_port),
            "HTTP_PORT": str(self.http_port),
            "RING_TIMEOUT_MS": str(self.ring_timeout_ms),
        }
        cfg = self.rundir / "kamailio.cfg"
        cfg.write_text(_render((TEMPLATES / "kamailio.cfg").read_text(), values))
        log = (self.rundir / "logs" / "kamailio.log").open("ab")
        self.kamailio = await asyncio.create_subprocess_exec(
            "kamailio",
            "-f",
            str(cfg),
            "-Y",
            str(self.rundir / "run"),
            "-DD",
            "-E",
            "-m",
            "64",
            "-M",
            "8",
            *defines,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        log.close()
        for _ in range(200):
            if self.kamailio.returncode is not None:
                raise RuntimeError(
                    f"kamailio exited ({self.kamailio.returncode}): {self.log_tail('kamailio')}"
                )
            with contextlib.suppress(aiohttp.ClientError, OSError):
                await self.rpc("core.version")
                return
            await asyncio.sleep(0.05)
        raise RuntimeError(f"kamailio RPC not up: {self.log_tail('kamailio')}")

    async def stop_kamailio(self) -> None:
        if self.kamailio is not None:
            await _terminate(self.kamailio)
            self.kamailio = None

    async def restart_kamailio(self, reregister: bool = True) -> None:
        """Stop and start Kamailio on the same ports; all its in-memory state is lost."""
        await self.stop_kamailio()
        await self.start_kamailio()
        if reregister:
            # Registrations were in memory only; real phones re-register at their interval,
            # baresip 1.0.0 has no re-register command, so restart the UAs (same ports).
            for name in list(self.uas):
                await self._stop_ua(name)
                await self._start_ua(name, self.users[name])
            await self.wait_registered()

    async def _stop_ua(self, name: str) -> None:
        ua = self.uas.pop(name)
        await ua.close()
        if ua.process is not None:
            await _terminate(ua.process)

    async def _start_ua(self, name: str, user: str) -> None:
        uadir = self.rundir / "ua" / name
        uadir.mkdir(parents=True, exist_ok=True)
        if name not in self._ports:
            base = free_ports(14)  # sip (udp/tcp), sip+1 (tls), ctrl, rtp x10
            self._ports[name] = (base + 2, base, base + 4)
        ctrl_port, ua_port, rtp = self._ports[name]
        values = {
            "UA_NAME": name,
            "UA_USER": user,
            "UA_SIP_PORT": str(ua_port),
            "SIP_PORT": str(self.sip_port),
            "CTRL_PORT": str(ctrl_port),
            "RTP_FIRST": str(rtp),
            "RTP_LAST": str(rtp + 9),
            "ANSWERMODE": "manual",
        }
        (uadir / "config").write_text(_render((TEMPLATES / "ua.config").read_text(), values))
        (uadir / "accounts").write_text(_render((TEMPLATES / "ua.accounts").read_text(), values))
        ua = BaresipUA(name, user, ctrl_port, ua_port)
        log = (self.rundir / "logs" / f"baresip-{name}.log").open("ab")
        ua.process = await asyncio.create_subprocess_exec(
            "baresip", "-f", str(uadir), stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log
        )
        log.close()
        self.uas[name] = ua
        await ua.connect()

    async def rpc(self, method: str, *params: object) -> Any:
        body = {"jsonrpc": "2.0", "method": method, "params": list(params), "id": 1}
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"http://127.0.0.1:{self.http_port}/RPC",
                json=body,
                timeout=aiohttp.ClientTimeout(total=2),
            ) as resp,
        ):
            data = await resp.json(content_type=None)
        if "error" in data:
            raise RuntimeError(f"kamailio rpc {method}: {data['error']}")
        return data.get("result")

    async def wait_registered(self, limit: float = 10) -> None:
        want = set(self.users.values())
        seen: set[str] = set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(limit):
                while True:
                    dump = json.dumps(await self.rpc("ul.dump", "brief"))
                    seen = {u for u in want if f'"AoR": "{u}' in dump}
                    if seen == want:
                        return
                    await asyncio.sleep(0.05)
        raise RuntimeError(f"UAs not registered after {limit} s: missing {want - seen}")

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.rundir / "logs" / f"{name}.log"
        if not path.exists():
            return "(no log)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    async def stop(self) -> None:
        for name in list(self.uas):
            await self._stop_ua(name)
        await self.stop_kamailio()
        if not os.environ.get("SAMTEK_KEEP_SIP_RUNDIR"):
            shutil.rmtree(self.rundir, ignore_errors=True)


async def _terminate(proc: asyncio.subprocess.Process, grace: float = 5) -> None:
    """SIGTERM (Kamailio's main process then stops its children), SIGKILL after `grace`."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
