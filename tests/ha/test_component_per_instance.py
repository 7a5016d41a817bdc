"""What Prosody 0.12 does when a second SAMTEK instance connects as the same component, and the
deployment that follows from it: one component JID per instance, all trusted by the overlay
module (deploy/README.md, "Several instances")."""

from __future__ import annotations

import asyncio
import hashlib
import re

from samtek.devserver.prosody import ProsodyServer
from tests.ha.cluster import cluster_prosody

STREAM = (
    "<stream:stream xmlns='jabber:component:accept' "
    "xmlns:stream='http://etherx.jabber.org/streams' to='{jid}'>"
)


class RawComponent:
    """XEP-0114 by hand: stream header, <handshake>sha1(id + secret)</handshake>."""

    def __init__(self, server: ProsodyServer, jid: str) -> None:
        self.server, self.jid = server, jid
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self) -> str:
        self.reader, self.writer = await asyncio.open_connection(
            "127.0.0.1", self.server.component_port
        )
        self.writer.write(STREAM.format(jid=self.jid).encode())
        head = (await asyncio.wait_for(self.reader.read(4096), 5)).decode()
        match = re.search(r"id=['\"]([^'\"]+)", head)
        assert match, head
        digest = hashlib.sha1((match.group(1) + self.server.component_secret).encode())
        self.writer.write(f"<handshake>{digest.hexdigest()}</handshake>".encode())
        return (await asyncio.wait_for(self.reader.read(4096), 5)).decode()

    async def still_open(self) -> bool:
        assert self.reader is not None and self.writer is not None
        self.writer.write(b" ")  # whitespace keepalive
        try:
            data = await asyncio.wait_for(self.reader.read(4096), 0.5)
        except TimeoutError:
            return True
        return data != b"" and b"stream:error" not in data

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def test_second_connection_with_the_same_component_jid_is_refused() -> None:
    async with ProsodyServer() as server:
        first = RawComponent(server, server.component_jid)
        second = RawComponent(server, server.component_jid)
        try:
            assert await first.connect() == "<handshake/>"
            refused = await second.connect()
            print("second connection:", refused)
            # The newcomer gets <conflict/> "Component already connected"; the first stays.
            assert "<conflict" in refused and "Component already connected" in refused
            assert await first.still_open()
        finally:
            first.close()
            second.close()


async def test_one_component_per_instance_connects_side_by_side() -> None:
    server, jids = cluster_prosody(2)
    async with server:
        components = [RawComponent(server, jid) for jid in jids]
        try:
            assert [await c.connect() for c in components] == ["<handshake/>"] * 2
            assert all([await c.still_open() for c in components])
        finally:
            for c in components:
                c.close()
