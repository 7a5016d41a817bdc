"""`list` in pages of whole users on ejabberd (mod_samtek_overlay.erl): the tests of
tests/overlay/test_overlay_list_pages.py, unchanged (the fixture `prosody` is an ejabberd),
and the page bound as the module option `max_list`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree as ET

from samtek.devserver.ejabberd import EjabberdServer
from tests.overlay.helpers import NS, PASSWORD, Component
from tests.overlay.test_overlay_list_pages import (
    test_list_pages_whole_users_in_jid_order,
    test_the_client_reads_every_page,
)

__all__ = ["test_list_pages_whole_users_in_jid_order", "test_the_client_reads_every_page"]


async def test_max_list_caps_the_page_and_jid_order_is_by_bare_jid_string() -> None:
    server = EjabberdServer(overlay_options={"max_list": 1})
    for user in ("alice", "alice2", "bob"):
        server.add_user(user, PASSWORD)
    async with server:
        component = Component(server)  # type: ignore[arg-type]
        await component.connect()
        try:
            until = (datetime.now(UTC) + timedelta(seconds=600)).strftime("%Y-%m-%dT%H:%M:%SZ")
            for user in ("alice", "alice2", "bob"):
                await component.set(server.jid(user), "dnd", f"t-{user}", until)
            pages: list[list[str | None]] = []
            after: str | None = None
            while True:
                attrs = {"max": "100"} | ({"after": after} if after else {})
                result = await component.iq("get", ET.Element(f"{{{NS}}}list", attrs))
                found = result.xml.find(f"{{{NS}}}list")
                assert found is not None
                pages.append([item.get("jid") for item in found])
                after = found.get("last")
                if after is None:
                    break
            # "alice2@…" < "alice@…" as strings ('2' < '@'): the order the client compares.
            assert pages == [
                [server.jid("alice2")],
                [server.jid("alice")],
                [server.jid("bob")],
            ]
        finally:
            await component.close()
