"""Throw-away Prosody server for tests: 127.0.0.1, free ports, temp dir, plain-text auth.

Users and rosters are written straight into Prosody's internal storage files before the
server starts (util/datamanager.lua + mod_storage_internal: ``return <lua table>;`` in
``<data>/<urlencoded host>/<store>/<urlencoded user>.dat``), so thousands of accounts cost
well under a second and no prosodyctl call per user.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shutil
import signal
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from samtek.devserver.accounts import SeededAccounts
from samtek.devserver.process import die_with_parent, free_port, port_open, terminate

APT_PACKAGE = "prosody"
STOP_GRACE = 5.0  # seconds between SIGTERM and SIGKILL
OVERLAY_MODULE_DIR = Path(__file__).resolve().parents[2] / "deploy" / "prosody"

_PLAIN = re.compile(r"[ !#-\[\]-~]*")  # printable ASCII except '"' and backslash


class ProsodyError(RuntimeError):
    """The test server could not be prepared, started or stopped."""


def lua_str(value: str) -> str:
    """A Lua string literal; non-printable and non-ASCII bytes as decimal escapes."""
    if _PLAIN.fullmatch(value):  # fast path: thousands of users are written at once
        return f'"{value}"'
    out = []
    for byte in value.encode():
        ch = chr(byte)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= byte < 0x7F:
            out.append(ch)
        else:
            out.append(f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


def path_encode(value: str) -> str:
    """datamanager's encode(): every byte that is not [A-Za-z0-9] becomes %xx (lower hex)."""
    if value.isascii() and value.isalnum():
        return value
    return re.sub(rb"[^A-Za-z0-9]", lambda m: b"%%%02x" % m.group(0)[0], value.encode()).decode(
        "ascii"
    )


def _write(path: Path, text: str) -> None:
    # os.open/os.write: several times faster than Path.write_text for thousands of files.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


class ProsodyServer(SeededAccounts):
    """One Prosody process with a user host, an XEP-0114 component and a MUC service.

    ``add_user``/``add_contact`` only before the first ``start()`` (the files are written
    then; later Prosody owns them).  ``restart()`` keeps the data directory.
    """

    error = ProsodyError

    def __init__(
        self,
        domain: str = "region.test",
        component_name: str = "samtek",
        *,
        overlay: bool = True,
        oof: bool = False,
        deliver: bool = True,
        extra_host_config: str = "",
        debug_log: bool = bool(os.environ.get("SAMTEK_PROSODY_DEBUG")),
        start_timeout: float = 15.0,
        c2s_port: int | None = None,
    ) -> None:
        if shutil.which("prosody") is None:
            raise ProsodyError(
                f"prosody binary not found: install the Debian package {APT_PACKAGE!r} "
                f"(apt-get install -y {APT_PACKAGE})"
            )
        self.domain = domain
        self.component_jid = f"{component_name}.{domain}"
        self.component_secret = secrets.token_hex(16)
        self.muc_domain = f"conference.{domain}"
        self.overlay = overlay
        self.oof = oof  # mod_samtek_oof: out-of-office auto-replies by the assistant
        self.deliver = deliver  # mod_samtek_deliver: chat messages confirmed, shown once
        self.extra_host_config = extra_host_config
        self.debug_log = debug_log
        self.start_timeout = start_timeout
        # tmpfs when available: writing thousands of account files on the shared disk varies
        # from 0.15 s to 2 s here.
        shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
        self.dir = Path(tempfile.mkdtemp(prefix="prosody-test-", dir=shm))
        self.data_dir = self.dir / "data"
        self.log_path = self.dir / "prosody.log"
        self.config_path = self.dir / "prosody.cfg.lua"
        self.c2s_port = 0
        self.component_port = 0
        self._fixed_c2s_port = c2s_port  # the demo listens where clients expect it
        self._process: asyncio.subprocess.Process | None = None
        self._init_accounts()

    # -- data, before start ----------------------------------------------------------------

    def _write_data(self) -> None:
        host_dir = self.data_dir / path_encode(self.domain)
        accounts = host_dir / "accounts"
        rosters = host_dir / "roster"
        (self.dir / "certs").mkdir(exist_ok=True)  # empty: no TLS, but no indexing error
        accounts.mkdir(parents=True, exist_ok=True)
        rosters.mkdir(parents=True, exist_ok=True)
        for user, password in self._passwords.items():
            _write(
                accounts / f"{path_encode(user)}.dat",
                f'return {{\n\t["password"] = {lua_str(password)};\n}};\n',
            )
        for user, contacts in self._rosters.items():
            items = []
            for contact, (name, subscription) in contacts.items():
                fields = f'subscription = "{subscription}"; groups = {{}};'
                if name is not None:
                    fields += f" name = {lua_str(name)};"
                items.append(f"\t[{lua_str(contact)}] = {{ {fields} }};\n")
            _write(
                rosters / f"{path_encode(user)}.dat",
                "return {\n\t[false] = { version = 1; pending = {} };\n" + "".join(items) + "};\n",
            )

    # -- config ----------------------------------------------------------------------------

    def _config(self) -> str:
        d = self.dir
        log_level = "debug" if self.debug_log else "info"
        overlay = ""
        plugin_paths = ""
        wanted = (
            ("samtek_overlay", self.overlay),
            ("samtek_presence_info", self.overlay),  # who is online: the assistant's status
            ("samtek_oof", self.oof),
            ("samtek_deliver", self.deliver),
        )
        modules = [name for name, on in wanted if on]
        if modules:
            plugin_paths = f"plugin_paths = {{ {lua_str(str(OVERLAY_MODULE_DIR))} }}\n"
            trusted = lua_str(self.component_jid)
            overlay = f"\tmodules_enabled = {{ {'; '.join(lua_str(m) for m in modules)} }}\n"
            overlay += f"\tsamtek_overlay_trusted = {{ {trusted} }}\n" if self.overlay else ""
            info = f"\tsamtek_presence_info_trusted = {{ {trusted} }}\n"
            overlay += info if self.overlay else ""
            overlay += f"\tsamtek_oof_trusted = {{ {trusted} }}\n" if self.oof else ""
            overlay += f"\tsamtek_deliver_trusted = {{ {trusted} }}\n" if self.deliver else ""
        return f"""-- generated by samtek/devserver/prosody.py
run_as_root = true
daemonize = false
pidfile = {lua_str(str(d / "prosody.pid"))}
data_path = {lua_str(str(self.data_dir))}
{plugin_paths}log = {{ {log_level} = {lua_str(str(self.log_path))} }}
interfaces = {{ "127.0.0.1" }}
local_interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {self.c2s_port} }}
component_ports = {{ {self.component_port} }}
component_interface = "127.0.0.1"
c2s_direct_tls_ports = {{}}
legacy_ssl_ports = {{}}
s2s_ports = {{}}
http_ports = {{}}
https_ports = {{}}
c2s_require_encryption = false
s2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_plain"
storage = "internal"
certificates = {lua_str(str(d / "certs"))}
modules_enabled = {{
	"roster"; "saslauth"; "disco"; "private"; "vcard"; "ping"; "bookmarks"; "blocklist";
}}
modules_disabled = {{ "s2s"; "tls" }}
admins = {{ {lua_str(self.component_jid)} }}

VirtualHost {lua_str(self.domain)}
{overlay}{self.extra_host_config}

Component {lua_str(self.component_jid)}
\tcomponent_secret = {lua_str(self.component_secret)}

Component {lua_str(self.muc_domain)} "muc"
\tmodules_enabled = {{ "muc_mam" }}
"""

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        return self._process.pid if self.running and self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def start(self) -> None:
        if self.running:
            raise ProsodyError("prosody is already running")
        if not self._started_once:
            self._write_data()
        last_error: ProsodyError | None = None
        for _attempt in range(3):  # a free port may be taken between probing and binding
            self.c2s_port = self._fixed_c2s_port or free_port()
            self.component_port = free_port()
            self.config_path.write_text(self._config())
            try:
                await self._spawn_and_wait()
                self._started_once = True
                return
            except ProsodyError as exc:
                last_error = exc
                await self._terminate()
                if "in use" not in str(exc).lower():
                    break
        assert last_error is not None
        raise last_error

    async def _spawn_and_wait(self) -> None:
        log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with (self.dir / "stdout.log").open("ab") as out:  # the child keeps its own copy
            self._process = await asyncio.create_subprocess_exec(
                "prosody",
                "-F",
                "--config",
                str(self.config_path),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                preexec_fn=die_with_parent,  # only a prctl call: safe between fork and exec
            )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.start_timeout
        while loop.time() < deadline:
            if self._process.returncode is not None:
                raise ProsodyError(
                    f"prosody exited with code {self._process.returncode} while starting:\n"
                    + self.log_tail(log_offset)
                )
            if port_open(self.c2s_port) and port_open(self.component_port):
                return
            await asyncio.sleep(0.05)
        raise ProsodyError(
            f"prosody did not open ports {self.c2s_port}/{self.component_port} within "
            f"{self.start_timeout}s:\n" + self.log_tail(log_offset)
        )

    def log_tail(self, offset: int = 0, lines: int = 40) -> str:
        chunks = []
        for path in (self.log_path, self.dir / "stdout.log"):
            if path.exists():
                with path.open("rb") as fh:
                    fh.seek(offset if path == self.log_path else 0)
                    text = fh.read().decode(errors="replace")
                chunks.append(f"--- {path.name} ---\n" + "\n".join(text.splitlines()[-lines:]))
        return "\n".join(chunks) or "(no prosody log written)"

    async def _terminate(self) -> None:
        await terminate(self._process, signal.SIGTERM, STOP_GRACE)
        self._process = None

    async def stop(self) -> None:
        await self._terminate()

    async def restart(self) -> None:
        """Stop and start again on the same ports, keeping the data directory."""
        await self._terminate()
        await self._spawn_and_wait()

    def cleanup(self) -> None:
        if self.running:
            raise ProsodyError("cleanup() while prosody still runs: call stop() first")
        shutil.rmtree(self.dir, ignore_errors=True)

    async def __aenter__(self) -> ProsodyServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
        if not os.environ.get("SAMTEK_KEEP_PROSODY"):  # set it to inspect logs/data after a run
            self.cleanup()


__all__: Sequence[str] = ["APT_PACKAGE", "ProsodyError", "ProsodyServer", "free_port"]
