"""Shared pieces of the fault tests: users, clients, configs, timing output."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from samtek.devserver.prosody import ProsodyServer
from tests.xmpp_clients import TestClient

OWN_STATUS = "Jobber med budsjett"


def setup_users(prosody: ProsodyServer) -> None:
    prosody.add_user("alice", "pw")
    prosody.add_user("bob", "pw")
    prosody.add_contact("alice", prosody.jid("bob"), subscription="both")
    prosody.add_contact("bob", prosody.jid("alice"), subscription="both")


async def online_pair(prosody: ProsodyServer) -> tuple[TestClient, TestClient]:
    """alice online with her own status; bob subscribed to her, having seen it (or an
    overlay already in place)."""
    alice = TestClient(prosody.jid("alice"), "pw", prosody.c2s_port, status=OWN_STATUS)
    bob = TestClient(prosody.jid("bob"), "pw", prosody.c2s_port)
    await alice.connect()
    await bob.connect()
    return alice, bob


async def until_seen(
    bob: TestClient, prosody: ProsodyServer, show: str, timeout: float = 20.0
) -> float:
    """Wait until bob sees alice with `show` ("" = her own presence); returns when (time())."""
    deadline = time.monotonic() + timeout
    while True:
        seen = await bob.next_from(prosody.jid("alice"), timeout=deadline - time.monotonic())
        if seen.show == show and (show or seen.status == OWN_STATUS):
            return seen.at


async def poll(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Wait until `check()` (sync or async) returns something truthy; returns it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def report(what: str, seconds: float) -> None:
    print(f"\nRECOVERY {what}: {seconds:.3f} s")


def write_config(
    directory: Path,
    prosody: ProsodyServer,
    feeds: dict[str, Path | str],
    store_url: str | None = None,
    connector_options: str = "refresh_interval = 1",
) -> Path:
    secret = directory / "component.secret"
    secret.write_text(prosody.component_secret)
    people = "".join(
        f'\n[[people]]\nid = "{name}"\njid = "{prosody.jid(name)}"\nname = "{name.title()}"\n'
        f'municipality = "kongsberg"\ncalendars = [{{ address = "{feed}" }}]\n'
        for name, feed in feeds.items()
    )
    path = directory / "samtek.toml"
    path.write_text(
        f"""
[xmpp]
domain = "{prosody.domain}"
component_jid = "{prosody.component_jid}"
component_secret = "file:{secret}"
port = {prosody.component_port}

[store]
url = "{store_url or f"sqlite:///{directory}/state.db"}"

[http]
port = 0

[[municipalities]]
id = "kongsberg"
name = "Kongsberg kommune"
calendar = "feeds"

[connectors.feeds]
type = "ical"
{connector_options}
{people}
"""
    )
    return path
