"""What every throw-away server needs: a free port, a readiness probe, dying with its parent,
and a graceful stop that falls back to SIGKILL."""

from __future__ import annotations

import asyncio
import ctypes
import signal
import socket
import sys


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def die_with_parent() -> None:
    """In the child before exec: SIGTERM when the test process dies, even by SIGKILL, so a
    crashed or killed run never leaves a server behind (Linux prctl PR_SET_PDEATHSIG)."""
    if sys.platform.startswith("linux"):  # elsewhere stop() still terminates it normally
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


async def terminate(
    proc: asyncio.subprocess.Process | None, stop_signal: signal.Signals, grace: float
) -> None:
    """Send `stop_signal`, wait up to `grace` seconds, then SIGKILL."""
    if proc is None or proc.returncode is not None:
        return
    proc.send_signal(stop_signal)
    try:
        await asyncio.wait_for(proc.wait(), grace)
    except TimeoutError:
        proc.kill()
        await proc.wait()
