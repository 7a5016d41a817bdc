"""Throw-away PostgreSQL server for tests and benchmarks: 127.0.0.1, a free port, a temp dir.

initdb refuses to run as root, so as root both initdb and postgres run as the `postgres` OS
user (created by the Debian package) through `runuser`, and the temp dir is handed to it.
Settings favour speed over durability (fsync off): for tests only, never for production.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import signal
import tempfile
from pathlib import Path
from types import TracebackType

from samtek.devserver.process import die_with_parent, free_port, terminate

APT_PACKAGE = "postgresql"
STOP_GRACE = 10.0
_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


class PostgresError(RuntimeError):
    """The test server could not be prepared, started or stopped."""


def _find_bin(name: str) -> str:
    for directory in _BIN_DIRS:
        candidate = directory / name
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise PostgresError(
            f"{name} not found: install the Debian package {APT_PACKAGE!r} "
            f"(apt-get install -y --no-install-recommends {APT_PACKAGE})"
        )
    return found


class PostgresServer:
    """One postgres process; `url` is a postgresql:// URL for the `samtek` database."""

    def __init__(self, database: str = "samtek", start_timeout: float = 30.0) -> None:
        self.initdb = _find_bin("initdb")
        self.postgres = _find_bin("postgres")
        self.database = database
        self.start_timeout = start_timeout
        shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
        self.dir = Path(tempfile.mkdtemp(prefix="postgres-test-", dir=shm))
        self.data_dir = self.dir / "data"
        self.log_path = self.dir / "postgres.log"
        self.port = 0
        self.user = "postgres"
        self._process: asyncio.subprocess.Process | None = None
        self._initialised = False
        self._db_created = False
        self._as_root = os.geteuid() == 0
        if self._as_root:
            try:
                entry = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresError(
                    "OS user 'postgres' missing: install the Debian package "
                    f"{APT_PACKAGE!r}, which creates it"
                ) from None
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
        else:
            self.user = pwd.getpwuid(os.geteuid()).pw_name

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{self.database}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self.running and self._process else None

    def _as_user(self) -> dict[str, str]:
        # Credentials change in the child before preexec_fn, so PDEATHSIG set there survives
        # (it is cleared on uid changes) and the signal reaches postgres itself, not a runuser.
        return {"user": "postgres", "group": "postgres"} if self._as_root else {}

    async def _init(self) -> None:
        proc = await asyncio.create_subprocess_exec(
            self.initdb,
            "-D",
            str(self.data_dir),
            "-U",
            self.user,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            **self._as_user(),  # type: ignore[arg-type]
        )
        out, _ = await proc.communicate()
        if proc.returncode != 0:
            raise PostgresError(f"initdb failed ({proc.returncode}):\n{out.decode()[-2000:]}")
        self._initialised = True

    async def start(self) -> None:
        if self.running:
            raise PostgresError("postgres is already running")
        if not self._initialised:
            await self._init()
        if not self.port:
            self.port = free_port()
        await self._spawn_and_wait()
        if not self._db_created:
            await self._create_database()
            self._db_created = True

    async def _spawn_and_wait(self) -> None:
        log = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
        try:
            self._process = await asyncio.create_subprocess_exec(
                self.postgres,
                "-D",
                str(self.data_dir),
                "-k",
                str(self.dir),
                "-p",
                str(self.port),
                "-h",
                "127.0.0.1",
                # tests only: durability traded for speed
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=100",
                "-c",
                "shared_buffers=32MB",
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                preexec_fn=die_with_parent,
                **self._as_user(),  # type: ignore[arg-type]
            )
        finally:
            os.close(log)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.start_timeout
        while loop.time() < deadline:
            if self._process.returncode is not None:
                raise PostgresError(
                    f"postgres exited with code {self._process.returncode} while starting:\n"
                    + self.log_tail()
                )
            if await self._accepts_connections():
                return
            await asyncio.sleep(0.1)
        raise PostgresError(
            f"postgres did not accept connections on port {self.port} within "
            f"{self.start_timeout}s:\n" + self.log_tail()
        )

    async def _accepts_connections(self) -> bool:
        import asyncpg

        try:
            conn = await asyncpg.connect(
                host="127.0.0.1", port=self.port, user=self.user, database="postgres", timeout=2
            )
        except (OSError, asyncpg.PostgresError, TimeoutError):
            return False
        await conn.close()
        return True

    async def _create_database(self) -> None:
        import asyncpg

        conn = await asyncpg.connect(
            host="127.0.0.1", port=self.port, user=self.user, database="postgres"
        )
        try:
            await conn.execute(f'CREATE DATABASE "{self.database}"')
        finally:
            await conn.close()

    async def reset(self) -> None:
        """Drop and recreate the database: each test starts from an empty schema."""
        import asyncpg

        conn = await asyncpg.connect(
            host="127.0.0.1", port=self.port, user=self.user, database="postgres"
        )
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{self.database}"')
        finally:
            await conn.close()

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no postgres log written)"
        text = self.log_path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    async def stop(self) -> None:
        # SIGINT = "fast shutdown": disconnects clients instead of waiting for them.
        await terminate(self._process, signal.SIGINT, STOP_GRACE)
        self._process = None

    async def restart(self) -> None:
        await self.stop()
        await self._spawn_and_wait()

    def cleanup(self) -> None:
        if self.running:
            raise PostgresError("cleanup() while postgres still runs: call stop() first")
        shutil.rmtree(self.dir, ignore_errors=True)

    async def __aenter__(self) -> PostgresServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
        self.cleanup()


__all__ = ["APT_PACKAGE", "PostgresError", "PostgresServer"]
