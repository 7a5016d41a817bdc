"""Files of the SQLite store: owner-only modes, and one service per database file.

The store holds calendars, directory data and secrets (the room feed secret), so its files
are created 0600 in a 0700 directory whatever the umask; the systemd unit's UMask=0077 does
not protect a service started any other way.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

PRIVATE_FILE = 0o600


class StoreInUse(RuntimeError):
    """Another process runs a service on the same SQLite file."""


def private_file(path: Path) -> None:
    """Create `path` if missing and make it owner-only (also when it existed with a wider
    mode, e.g. from a version before this rule)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE)
    try:
        os.fchmod(fd, PRIVATE_FILE)
    finally:
        os.close(fd)


def sqlite_companions(path: Path) -> tuple[Path, ...]:
    """The files SQLite keeps next to a database in WAL mode."""
    return (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"))


class InstanceLock:
    """An exclusive flock on `<database>.lock`, held while the service runs.

    A separate file rather than the database itself: SQLite's own POSIX locks on the
    database are dropped when any descriptor of that file in the process is closed. The
    kernel releases a flock when the process dies, so a crash never leaves it stale.
    """

    def __init__(self, fd: int, path: Path) -> None:
        self._fd: int | None = fd
        self.path = path

    @classmethod
    def acquire(cls, database: Path) -> InstanceLock:
        path = database.with_name(database.name + ".lock")
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE)
        try:
            os.fchmod(fd, PRIVATE_FILE)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise StoreInUse(
                f"the store {database} is in use by another SAMTEK service"
                f"{f' (pid {holder})' if holder else ''}: SQLite serves one instance only."
                " Stop the other one, or give several instances a shared PostgreSQL"
                ' ([store] url = "postgresql://…")'
            ) from None
        except OSError:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return cls(fd, path)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # drops the flock
            self._fd = None


def _read_pid(fd: int) -> str:
    text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    return text if text.isascii() and text.isdigit() else ""
