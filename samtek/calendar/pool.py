"""Parsing in worker processes: every core is used, and the event loop's process never holds
a parse's memory.

Parsing is CPU-bound pure Python; in threads it shares one core with the event loop (the GIL).
Each worker is `python -m samtek.calendar.pool`: a fresh interpreter that imports only the
parser (~35 MB) and answers one request at a time over its stdin/stdout (a 4-byte length, then
a pickle). Deliberately not `multiprocessing`: its `spawn` and `forkserver` workers re-import the
parent's `__main__` (the whole service, or pytest) before their first task. Re-run with a
spawn pool, tests/faults/test_kill9.py fails: the service restarted mid-meeting publishes
presence before its first parse is back (the contact sees the meeting end 8 s early), because
that parse waits for an interpreter importing the service. Here the first feeds after a start
are parsed in a thread while the workers start, as fast as before, and a worker is one pipe
pair that the pool owns alone. A worker greets with its protocol version: one started from
other code on disk (an upgrade under a running service) is not used.

Supervised: a worker that dies (killed, out of memory) costs the feed it was parsing a
`CalendarError` (the feed's poll backs off and retries), and a new worker is started. A parse
that outlives `hang_seconds` of wall time, although the CPU budget ends every real parse long
before, is a stuck worker: it is killed and replaced the same way, as is a worker whose caller
was cancelled mid-parse (its pipe is in an unknown state). A worker is retired after
`tasks_per_worker` feeds: icalendar keeps every zone definition it has seen for the life of
its process, so a fresh worker starts empty. Workers read their stdin to the end: when the
service dies, they exit.

The pickles come from our own child process, whose only input from the network is the feed
text it parses; the parent never unpickles anything a feed could write.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import struct
import sys
from pathlib import Path
from typing import Any, BinaryIO

import structlog

from samtek.calendar import CalendarError
from samtek.calendar.ics import parse_feed
from samtek.calendar.report import Problem
from samtek.model import CalendarEvent

log = structlog.get_logger("samtek.calendar")

Parsed = tuple[list[CalendarEvent], list[Problem]]
_HEADER = struct.Struct(">I")
PROTOCOL = 1  # a worker started from newer code on disk (an upgrade) is not used
_START_SECONDS = 60.0  # a fresh interpreter importing the parser (~0.2 s when idle)
_RESTART_PAUSE = 30.0  # seconds of parsing in threads after a worker failed to start
_ROOT = str(Path(__file__).resolve().parents[2])  # the tree this code runs from (worktrees)


class ParsePool:
    """Up to `size` workers, started on demand; `parse` waits for a free one. While no worker
    is ready (the first feeds after a start, or a replaced worker), a feed is parsed in a
    thread instead, so a restarted service has its calendars as soon as it had with threads."""

    def __init__(self, size: int, tasks_per_worker: int = 500, hang_seconds: float = 120.0) -> None:
        self._size = size
        self._slots = asyncio.Semaphore(size)
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()
        self._starting: set[asyncio.Task[None]] = set()
        self._exiting: set[asyncio.Task[int]] = set()  # reaped in the background
        self._tasks_per_worker = tasks_per_worker
        self._hang_seconds = hang_seconds
        self._no_start_before = 0.0  # after a worker failed to start (loop time)

    async def start(self) -> None:
        """Start every worker now and wait until each is ready."""
        while len(self._all) + len(self._starting) < self._size:
            self._warm()
        await asyncio.gather(*self._starting)

    async def parse(self, *args: Any) -> Parsed:
        """`parse_feed(*args)` in a worker: (events, problems), or its CalendarError."""
        async with self._slots:
            if not self._idle:
                self._warm()
                return await asyncio.to_thread(parse_feed, *args)
            worker = self._idle.pop()
            try:
                reply = await asyncio.wait_for(worker.call(args), self._hang_seconds)
            except TimeoutError as exc:
                self._kill(worker)
                log.error("feed parser stuck; its process was killed")
                raise CalendarError("the parser did not finish; read again later") from exc
            except (asyncio.IncompleteReadError, ConnectionError) as exc:
                self._kill(worker)
                log.error("feed parser process died", returncode=worker.process.returncode)
                raise CalendarError("the parser process died; read again later") from exc
            except BaseException:  # cancelled mid-parse: the pipe is in an unknown state
                self._kill(worker)
                raise
            if worker.tasks >= self._tasks_per_worker:
                self._retire(worker)
            else:
                self._idle.append(worker)
        status, value = reply
        if status == "ok":
            events, problems = value
            return events, problems
        if status == "error":
            raise CalendarError(value)
        raise CalendarError(f"the parser failed ({value})")

    def pids(self) -> list[int]:
        return sorted(w.process.pid for w in self._all)

    async def aclose(self) -> None:
        """Stop every worker and wait until each has exited (no process or pipe left behind)."""
        for task in list(self._starting):
            task.cancel()
        await asyncio.gather(*self._starting, return_exceptions=True)
        for worker in list(self._all):
            self._kill(worker)
        self._idle.clear()
        await asyncio.gather(*self._exiting, return_exceptions=True)

    def _warm(self) -> None:
        """Start one more worker in the background, if the pool has room for it."""
        loop = asyncio.get_running_loop()
        if len(self._all) + len(self._starting) >= self._size:
            return
        if loop.time() < self._no_start_before:
            return
        task = loop.create_task(self._start())
        self._starting.add(task)
        task.add_done_callback(self._starting.discard)

    async def _start(self) -> None:
        path = os.pathsep.join(p for p in (_ROOT, os.environ.get("PYTHONPATH")) if p)
        worker: _Worker | None = None
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "samtek.calendar.pool",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                env={**os.environ, "PYTHONPATH": path},
            )
            worker = _Worker(process)
            self._all.add(worker)
            # It says "ready" once the parser is imported.
            ready = await asyncio.wait_for(worker.receive(), _START_SECONDS)
            if ready != ("ready", PROTOCOL):  # the code on disk changed under the service
                raise ValueError(f"worker speaks {ready!r}, not {PROTOCOL}")
        except Exception:  # (not a CancelledError) feeds are parsed in threads meanwhile
            log.exception("feed parser process did not start; parsing in threads for now")
            if worker is not None:
                self._kill(worker)
            self._no_start_before = asyncio.get_running_loop().time() + _RESTART_PAUSE
            return
        self._idle.append(worker)

    def _retire(self, worker: _Worker) -> None:
        self._all.discard(worker)
        assert worker.process.stdin is not None
        worker.process.stdin.close()  # it exits at the end of its input
        self._reap(worker)

    def _kill(self, worker: _Worker) -> None:
        self._all.discard(worker)
        if worker in self._idle:
            self._idle.remove(worker)
        if worker.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):  # it exited meanwhile
                worker.process.kill()
        self._reap(worker)

    def _reap(self, worker: _Worker) -> None:
        task = asyncio.get_running_loop().create_task(worker.process.wait())
        self._exiting.add(task)
        task.add_done_callback(self._exiting.discard)


class _Worker:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.tasks = 0

    async def call(self, args: tuple[Any, ...]) -> tuple[str, Any]:
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        self.tasks += 1
        request = pickle.dumps(args, protocol=pickle.HIGHEST_PROTOCOL)
        stdin.write(_HEADER.pack(len(request)) + request)
        await stdin.drain()
        return await self.receive()

    async def receive(self) -> tuple[str, Any]:
        stdout = self.process.stdout
        assert stdout is not None
        (size,) = _HEADER.unpack(await stdout.readexactly(_HEADER.size))
        reply: tuple[str, Any] = pickle.loads(await stdout.readexactly(size))
        return reply


def _send(replies: BinaryIO, reply: tuple[str, Any]) -> None:
    data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
    replies.write(_HEADER.pack(len(data)) + data)
    replies.flush()


def _serve(requests: BinaryIO, replies: BinaryIO) -> None:
    _send(replies, ("ready", PROTOCOL))
    while header := requests.read(_HEADER.size):
        if len(header) < _HEADER.size:
            return
        (size,) = _HEADER.unpack(header)
        args = pickle.loads(requests.read(size))
        reply: tuple[str, Any]
        try:
            reply = ("ok", parse_feed(*args))
        except CalendarError as exc:
            reply = ("error", str(exc))
        except Exception as exc:  # a parser bug: the trace to stderr, its type to the caller
            log.exception("feed parser bug")
            reply = ("bug", type(exc).__name__)
        _send(replies, reply)


if __name__ == "__main__":
    # The replies get their own copy of stdout; anything printed goes to stderr instead.
    _replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    _serve(sys.stdin.buffer, _replies)
