"""A hostile CalDAV server: its multistatus answers re-encoded as UTF-16 with a DTD.

The connector parsed them with the stdlib parser, which reads the DTD and expands its
entities; now every network XML goes through defusedxml and a DTD is refused outright.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from tests.caldav.conftest import make_config, person, run_connector, wait_until
from tests.servers.dav_proxy import DavProxy
from tests.servers.radicale import RadicaleServer, simple_event

DTD = """<!DOCTYPE multistatus [
  <!ENTITY a "AAAAAAAAAA">
  <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
]>"""


def utf16_with_dtd(data: bytes) -> bytes:
    text = re.sub(r"^<\?xml[^>]*\?>\s*", "", data.decode("utf-8"))
    return f'<?xml version="1.0" encoding="UTF-16"?>\n{DTD}\n{text}'.encode("utf-16")


async def test_multistatus_in_utf16_with_a_dtd_is_refused(radicale: RadicaleServer) -> None:
    cal = await radicale.make_calendar("alice")
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    stamp = "%Y%m%dT%H%M%S"
    end = start + timedelta(hours=1)
    await radicale.put_event(
        "alice", cal, "a", simple_event("a", start.strftime(stamp), end.strftime(stamp))
    )
    async with DavProxy.running(radicale.url, rewrite_multistatus=utf16_with_dtd) as proxy:
        address = f"{proxy.url}/alice/calendar/"
        config = make_config(radicale, url=proxy.url + "/")
        async with run_connector(config, [person("alice", address)]) as run:

            def refused() -> bool:
                errors = run.ctx.health.snapshot().item_errors.values()
                return any("DTD refused" in error for error in errors)

            await wait_until(refused)
            assert run.updates.queue.empty()  # nothing from the hostile documents
