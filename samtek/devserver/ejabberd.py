"""Throw-away ejabberd server for tests: 127.0.0.1, free ports, temp dir, plain-text auth.

The same surface as ``ProsodyServer`` (domain, component JID and secret, ports, users and
contacts added before the first start, start/stop/restart), so the protocol tests and the
end-to-end tests run unchanged against either server.

ejabberd runs without ejabberdctl, systemd or epmd: ``erl -s ejabberd`` as the current user,
the node named ``nonode@nohost`` (no distribution), mnesia in the temp dir.  A ``Cluster``
runs distributed nodes on loopback instead, with its own epmd on a free port and a random
cookie; a node that ``join``s another copies its mnesia tables at its first start.  The SAMTEK
modules in deploy/ejabberd/ are compiled with erlc against the Debian include files; the
beams are cached per source hash.  Users and rosters go through the HTTP API on loopback
after the first start (``register``, ``add_rosteritem``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import aiohttp

from samtek.devserver.accounts import SeededAccounts
from samtek.devserver.process import die_with_parent, free_port, port_open, terminate

APT_PACKAGES = ("ejabberd",)  # brings erlang-base (erlc) and the include files
STOP_GRACE = 10.0  # seconds between SIGTERM and SIGKILL; a clean stop takes ~3 s
MODULE_DIR = Path(__file__).resolve().parents[2] / "deploy" / "ejabberd"
ERL_LIBS = Path("/usr/lib/x86_64-linux-gnu")  # Debian puts ejabberd-<version>/ here
ERLANG_LIB = Path("/usr/lib/erlang/lib")

API_TIMEOUT = aiohttp.ClientTimeout(total=30)
API_PARALLEL = 20  # HTTP API calls in flight while registering users


class EjabberdError(RuntimeError):
    """The test server could not be prepared, started or stopped."""


def _ejabberd_app_dir() -> Path:
    found = sorted(ERL_LIBS.glob("ejabberd-*/ebin/ejabberd.app"))
    if not found:
        raise EjabberdError(
            f"ejabberd not found under {ERL_LIBS}: install the Debian packages "
            f"{' '.join(APT_PACKAGES)} (apt-get install -y {' '.join(APT_PACKAGES)})"
        )
    return found[-1].parents[1]


def _xmpp_include_dir() -> Path:
    found = sorted(ERLANG_LIB.glob("p1_xmpp-*/include/xmpp.hrl"))
    if not found:
        raise EjabberdError(f"xmpp.hrl (Debian package erlang-p1-xmpp) not found in {ERLANG_LIB}")
    return found[-1].parent


def compile_modules(source_dir: Path = MODULE_DIR) -> Path:
    """erlc every .erl in `source_dir`; returns the directory of the .beam files.

    Cached by a hash of the sources, so a test run compiles once."""
    if shutil.which("erlc") is None:
        raise EjabberdError("erlc not found: install the Debian package erlang-base")
    sources = sorted(source_dir.glob("*.erl"))
    digest = hashlib.sha256()
    for src in sources:
        digest.update(src.name.encode() + b"\0" + src.read_bytes())
    out = Path(tempfile.gettempdir()) / f"samtek-ejabberd-beams-{digest.hexdigest()[:16]}"
    if out.is_dir() and all((out / f"{s.stem}.beam").exists() for s in sources):
        return out
    app = _ejabberd_app_dir()
    build = Path(tempfile.mkdtemp(prefix="samtek-ejabberd-build-"))
    cmd = [
        "erlc",
        "-o",
        str(build),
        "-I",
        str(app / "include"),
        "-I",
        str(_xmpp_include_dir()),
        "-pa",
        str(app / "ebin"),  # the gen_mod behaviour
        *map(str, sources),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        shutil.rmtree(build, ignore_errors=True)
        raise EjabberdError(f"erlc failed:\n{result.stdout}{result.stderr}")
    try:
        build.rename(out)
    except OSError:  # another process finished the same build first
        shutil.rmtree(build, ignore_errors=True)
    return out


class Cluster:
    """Several ejabberd nodes on this machine: a private epmd on a free port and a cookie.

    Distribution is on loopback only (node names @127.0.0.1)."""

    def __init__(self) -> None:
        self.epmd_port = 0
        self.cookie = secrets.token_hex(16)
        self._epmd: asyncio.subprocess.Process | None = None
        self._count = 0

    def node_name(self) -> str:
        self._count += 1
        return f"samtek{self._count}@127.0.0.1"

    async def start(self) -> None:
        if shutil.which("epmd") is None:
            raise EjabberdError("epmd not found: install the Debian package erlang-base")
        self.epmd_port = free_port()
        self._epmd = await asyncio.create_subprocess_exec(
            "epmd",
            "-port",
            str(self.epmd_port),
            "-address",
            "127.0.0.1",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while not port_open(self.epmd_port):
            if loop.time() > deadline or self._epmd.returncode is not None:
                raise EjabberdError(f"epmd did not listen on port {self.epmd_port}")
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        await terminate(self._epmd, signal.SIGTERM, STOP_GRACE)
        self._epmd = None


class EjabberdServer(SeededAccounts):
    """One ejabberd node with a user host, an XEP-0114 component and a MUC service.

    ``add_user``/``add_contact`` only before the first ``start()`` (registered through the
    HTTP API then; later the data is ejabberd's).  ``restart()`` keeps the mnesia directory.
    """

    error = EjabberdError

    def __init__(
        self,
        domain: str = "region.test",
        component_name: str = "samtek",
        *,
        overlay: bool = True,
        overlay_options: dict[str, object] | None = None,
        oof: bool = False,
        rooms: bool = False,
        dnd: bool = True,
        deliver: bool = True,
        extra_hosts: Sequence[str] = (),
        extra_modules: dict[str, object] | None = None,
        debug_log: bool = bool(os.environ.get("SAMTEK_EJABBERD_DEBUG")),
        start_timeout: float = 20.0,
        c2s_port: int | None = None,
        cluster: Cluster | None = None,
        join: EjabberdServer | None = None,
    ) -> None:
        _ejabberd_app_dir()  # fail early with the install hint
        self.domain = domain
        self.component_jid = f"{component_name}.{domain}"
        self.component_secret = secrets.token_hex(16)
        self.muc_domain = f"conference.{domain}"
        self.overlay = overlay
        self.overlay_options = overlay_options or {}
        self.oof = oof  # mod_samtek_oof: out-of-office auto-replies by the assistant
        self.rooms = rooms  # mod_samtek_rooms: XEP-0402 bookmarks for project-room members
        self.dnd = dnd  # mod_samtek_dnd: manual dnd changes, for phone DND from chat
        self.deliver = deliver  # mod_samtek_deliver: chat messages confirmed, shown once
        self.extra_hosts = list(extra_hosts)  # more virtual hosts, each with its own MUC
        self.extra_modules = extra_modules or {}
        self.debug_log = debug_log
        self.start_timeout = start_timeout
        shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
        self.dir = Path(tempfile.mkdtemp(prefix="ejabberd-test-", dir=shm))
        self.spool_dir = self.dir / "spool"
        self.log_path = self.dir / "ejabberd.log"
        self.config_path = self.dir / "ejabberd.yml"
        self.c2s_port = 0
        self.component_port = 0
        self.http_port = 0
        self._fixed_c2s_port = c2s_port
        # A distributed node (cluster tests): its name, and the node it joins at first start.
        self.cluster = cluster
        self.node = cluster.node_name() if cluster else "nonode@nohost"
        self.join = join
        if join is not None and (cluster is None or join.cluster is not cluster):
            raise EjabberdError("join: both nodes must belong to the same Cluster")
        if join is not None:  # one cluster, one configuration: the same component secret
            self.component_secret = join.component_secret
        self._process: asyncio.subprocess.Process | None = None
        self._beams: Path | None = None
        self._init_accounts()

    # -- data, before start ----------------------------------------------------------------

    async def api(
        self, command: str, session: aiohttp.ClientSession | None = None, **args: str
    ) -> object:
        """One mod_http_api command on loopback; raises EjabberdError on a refusal."""
        if session is None:
            async with aiohttp.ClientSession(timeout=API_TIMEOUT) as own:
                return await self.api(command, own, **args)
        url = f"http://127.0.0.1:{self.http_port}/api/{command}"
        async with session.post(url, json=args) as resp:
            body = await resp.text()
            if resp.status != 200:
                raise EjabberdError(f"{command}: HTTP {resp.status}: {body[:500]}")
            return json.loads(body) if body else None

    async def _write_data(self) -> None:
        """Accounts, then roster items, API_PARALLEL calls in flight (thousands for benches)."""
        calls: list[tuple[str, dict[str, str]]] = [
            ("register", {"user": user, "host": self.domain, "password": password})
            for user, password in self._passwords.items()
        ]
        items = [
            (
                "add_rosteritem",
                {
                    "localuser": user,
                    "localhost": self.domain,
                    "user": contact.partition("@")[0],
                    "host": contact.partition("@")[2],
                    "nick": name or "",
                    "group": "",
                    "subs": subscription,
                },
            )
            for user, contacts in self._rosters.items()
            for contact, (name, subscription) in contacts.items()
        ]
        connector = aiohttp.TCPConnector(limit=API_PARALLEL)
        async with aiohttp.ClientSession(timeout=API_TIMEOUT, connector=connector) as session:
            for batch in (calls, items):  # a roster item needs its account
                for i in range(0, len(batch), API_PARALLEL):
                    await asyncio.gather(
                        *(
                            self.api(cmd, session, **args)
                            for cmd, args in batch[i : i + API_PARALLEL]
                        )
                    )

    # -- config ----------------------------------------------------------------------------

    def _config(self) -> str:
        modules: dict[str, object] = {
            "mod_roster": {},
            "mod_admin_extra": {},
            "mod_disco": {},
            "mod_ping": {},
            "mod_mam": {},
            "mod_muc": {
                "host": "conference.@HOST@",  # conference.<domain> for each virtual host
                "access_create": "all",
                # SAMTEK's component administers the MUC service (as in Prosody's `admins`)
                "access_admin": [{"allow": "samtek"}],
                "default_room_options": {"persistent": False},
            },
            "mod_muc_admin": {},
        }
        if self.overlay:
            modules["mod_samtek_overlay"] = {
                "trusted": [self.component_jid],
                **self.overlay_options,
            }
            # who is online, for the assistant's `status` (next to the overlay, as on Prosody)
            modules["mod_samtek_presence_info"] = {"trusted": [self.component_jid]}
        if self.oof:
            modules["mod_samtek_oof"] = {"trusted": [self.component_jid]}
        if self.dnd:
            modules["mod_samtek_dnd"] = {"trusted": [self.component_jid]}
        if self.deliver:
            modules["mod_offline"] = {}  # a message to a user who is away waits for her
            modules["mod_samtek_deliver"] = {"trusted": [self.component_jid]}
        if self.rooms:
            modules["mod_caps"] = {}
            modules["mod_pubsub"] = {"plugins": ["flat", "pep"]}
            modules["mod_samtek_rooms"] = {"trusted": [self.component_jid]}
            # room commands ("SAMTEK: møter") forwarded to the component; nick as [rooms] nick
            modules["mod_samtek_mention"] = {"component": self.component_jid, "nick": "SAMTEK"}
        modules.update(self.extra_modules)
        config = {
            "hosts": [self.domain, *self.extra_hosts],
            "loglevel": "debug" if self.debug_log else "info",
            "certfiles": [],
            "listen": [
                {
                    "port": self.c2s_port,
                    "ip": "127.0.0.1",
                    "module": "ejabberd_c2s",
                    "starttls_required": False,
                    # ejabberd's default backlog of 5 stalls hundreds of simultaneous logins
                    "backlog": 1024,
                },
                {
                    "port": self.component_port,
                    "ip": "127.0.0.1",
                    "module": "ejabberd_service",
                    "hosts": {self.component_jid: {"password": self.component_secret}},
                },
                {
                    "port": self.http_port,
                    "ip": "127.0.0.1",
                    "module": "ejabberd_http",
                    "request_handlers": {"/api": "mod_http_api"},
                },
            ],
            "acl": {"local": {"user_regexp": ""}, "samtek": {"server": self.component_jid}},
            # Loopback only, for the harness; never expose the API like this in production.
            "api_permissions": {
                "loopback admin": {
                    "from": ["mod_http_api"],
                    "who": {"ip": "127.0.0.1/8"},
                    "what": "*",
                }
            },
            "access_rules": {"local": {"allow": "local"}, "c2s": {"allow": "all"}},
            "auth_method": ["internal"],
            "auth_password_format": "plain",
            "shaper_rules": {},
            "modules": modules,
        }
        # JSON is YAML: no YAML writer needed, and every string is quoted.
        return "# generated by samtek/devserver/ejabberd.py\n" + json.dumps(config, indent=1)

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        return self._process.pid if self.running and self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def start(self) -> None:
        if self.running:
            raise EjabberdError("ejabberd is already running")
        self._beams = await asyncio.to_thread(compile_modules)
        last_error: EjabberdError | None = None
        for _attempt in range(3):  # a free port may be taken between probing and binding
            self.c2s_port = self._fixed_c2s_port or free_port()
            self.component_port = free_port()
            self.http_port = free_port()
            self.config_path.write_text(self._config())
            try:
                await self._spawn_and_wait()
                break
            except EjabberdError as exc:
                last_error = exc
                await self._terminate()
                if "eaddrinuse" not in str(exc).lower():
                    raise
        else:
            assert last_error is not None
            raise last_error
        if not self._started_once:
            self._started_once = True
            await self._write_data()

    async def _spawn_and_wait(self) -> None:
        log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        env = {
            **os.environ,
            "ERL_LIBS": str(ERL_LIBS),
            "EJABBERD_CONFIG_PATH": str(self.config_path),
            "EJABBERD_LOG_PATH": str(self.log_path),
            "HOME": str(self.dir),
        }
        node_args: list[str] = []
        start_args = ["-s", "ejabberd"]
        if self.cluster is not None:
            env["ERL_EPMD_PORT"] = str(self.cluster.epmd_port)
            node_args = ["-name", self.node, "-setcookie", self.cluster.cookie]
            if self.join is not None and not self._started_once:
                # ejabberd_cluster:join/1 needs a running ejabberd and restarts it, which
                # kills an HTTP API call; the mnesia part works before the first start.
                start_args = [
                    "-eval",
                    f"ejabberd_cluster_mnesia:join('{self.join.node}'), ejabberd:start()",
                ]
        self.spool_dir.mkdir(exist_ok=True)
        with (self.dir / "stdout.log").open("ab") as out:  # the child keeps its own copy
            self._process = await asyncio.create_subprocess_exec(
                "erl",
                "-noinput",
                "+K",
                "true",
                *node_args,
                "-pa",
                str(self._beams),
                "-mnesia",
                "dir",
                f'"{self.spool_dir}"',
                *start_args,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                env=env,
                cwd=self.dir,
                preexec_fn=die_with_parent,  # only a prctl call: safe between fork and exec
            )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.start_timeout
        while loop.time() < deadline:
            if self._process.returncode is not None:
                raise EjabberdError(
                    f"ejabberd exited with code {self._process.returncode} while starting:\n"
                    + self.log_tail(log_offset)
                )
            if all(port_open(p) for p in (self.c2s_port, self.component_port, self.http_port)):
                return
            await asyncio.sleep(0.05)
        raise EjabberdError(
            f"ejabberd did not open ports {self.c2s_port}/{self.component_port}/"
            f"{self.http_port} within {self.start_timeout}s:\n" + self.log_tail(log_offset)
        )

    def log_tail(self, offset: int = 0, lines: int = 40) -> str:
        chunks = []
        for path in (self.log_path, self.dir / "error.log", self.dir / "stdout.log"):
            if path.exists():
                with path.open("rb") as fh:
                    fh.seek(offset if path == self.log_path else 0)
                    text = fh.read().decode(errors="replace")
                chunks.append(f"--- {path.name} ---\n" + "\n".join(text.splitlines()[-lines:]))
        return "\n".join(chunks) or "(no ejabberd log written)"

    async def _terminate(self) -> None:
        await terminate(self._process, signal.SIGTERM, STOP_GRACE)
        self._process = None

    async def stop(self) -> None:
        await self._terminate()

    async def restart(self) -> None:
        """Stop and start again on the same ports, keeping the mnesia directory."""
        await self._terminate()
        await self._spawn_and_wait()

    def cleanup(self) -> None:
        if self.running:
            raise EjabberdError("cleanup() while ejabberd still runs: call stop() first")
        shutil.rmtree(self.dir, ignore_errors=True)

    async def __aenter__(self) -> EjabberdServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
        if not os.environ.get("SAMTEK_KEEP_EJABBERD"):  # set it to inspect logs/data after a run
            self.cleanup()


__all__: Sequence[str] = [
    "APT_PACKAGES",
    "Cluster",
    "EjabberdError",
    "EjabberdServer",
    "compile_modules",
]
