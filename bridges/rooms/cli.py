"""`samtek rooms plan|apply|feeds --config`: one reconciliation pass, or the feed URLs.

When the service is running, `plan` asks it (GET /admin/rooms/_plan with a token from the
config), since the server allows one connection per component JID. Otherwise it connects as
the component itself. `apply` needs the service stopped: a running service applies by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

from bridges.rooms.bridge import RoomsBridge
from bridges.rooms.remote import running_instance
from bridges.rooms.spec import SpecError
from samtek.config import Config
from samtek.health import HealthReporter
from samtek.progress import ProgressPrinter
from samtek.store import open_store
from samtek.xmpp.link import XmppLink

CONNECT_WAIT = 20.0


async def feeds_command(config: Config) -> int:
    """Print each room's ICS feed URL (needs no XMPP connection)."""
    settings = config.file.rooms
    if settings is None:
        print(f"{config.path}: no [rooms] section", file=sys.stderr)
        return 2
    http = config.file.http
    base = (http.public_url or f"http://{http.host}:{http.port}").rstrip("/")
    async with open_store(config.store.url) as store:
        bridge = RoomsBridge(
            settings,
            config.people,
            XmppLink(config.xmpp, HealthReporter("xmpp")),
            store,
            config.xmpp.domain,
            HealthReporter("rooms"),
            base_dir=config.path.parent,
        )
        try:
            rooms = await bridge.load_rooms()
        except SpecError as exc:
            for error in exc.errors:
                print(error, file=sys.stderr)
            return 2
        await bridge.index_feeds(rooms)
        for room in rooms:
            url = bridge.feed_url(room.id)
            if room.calendar is not None and url is not None:
                print(f"{room.id}\t{base}{url}")
    return 0


async def rooms_command(config: Config, apply: bool) -> int:
    settings = config.file.rooms
    if settings is None:
        print(f"{config.path}: no [rooms] section", file=sys.stderr)
        return 2
    running = await running_instance(config)
    if running is not None:
        if apply:
            print(
                f"the service is running ({running.base}): it applies the specs by itself,"
                " at once when a spec file changes; see `samtek rooms plan`",
                file=sys.stderr,
            )
            return 2
        return await running.print_plan()
    async with open_store(config.store.url) as store:
        link = XmppLink(config.xmpp, HealthReporter("xmpp"))
        bridge = RoomsBridge(
            settings,
            config.people,
            link,
            store,
            config.xmpp.domain,
            HealthReporter("rooms"),
            base_dir=config.path.parent,
        )
        try:
            rooms = await bridge.load_rooms()
        except SpecError as exc:
            for error in exc.errors:
                print(error, file=sys.stderr)
            return 2
        ready = asyncio.Event()

        async def on_ready() -> None:
            ready.set()

        link.on_ready(on_ready)
        session = asyncio.create_task(link.run())
        try:
            waiter = asyncio.create_task(ready.wait())
            done, _ = await asyncio.wait(
                {session, waiter}, timeout=CONNECT_WAIT, return_when=asyncio.FIRST_COMPLETED
            )
            if waiter not in done:
                waiter.cancel()
                error = str(session.exception()) if session.done() else "timed out"
                print(f"cannot connect to the XMPP server: {error}", file=sys.stderr)
                return 1
            plan = await bridge.reconciler.plan(rooms, bridge.today().date())
            print(plan.render())
            if apply and not plan.empty:
                result = await bridge.reconciler.apply(plan, ProgressPrinter(sys.stderr))
                print(f"applied {result.done} change(s), {len(result.failed)} room(s) failed")
                for room, error in sorted(result.failed.items()):
                    print(f"{room}: {error}", file=sys.stderr)
                return 1 if result.failed else 0
            return 0
        finally:
            session.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await session
