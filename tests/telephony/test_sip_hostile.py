"""Hostile datagrams to the real SIP connector (real Kamailio as its PBX), over real UDP.

The PBX runs on 127.0.0.1, so a socket on 127.0.0.1 speaks from the trusted host and one on
127.0.0.2 from a stranger. Nothing a datagram does may reach the event loop's exception
handler, strangers are not answered, and the log lines about all this are rate-limited.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from structlog.testing import capture_logs

from connectors.sip import SipConnector
from samtek.runtime.loglimit import LogLimiter
from tests.servers.sip import SipPeer
from tests.telephony.conftest import Running, eventually, make_connector, running_connector

BURST = 10  # log lines per kind and window (connectors/sip/transport.py)


def request(method: str, port: int, call_id: str, *extra: str, body: bytes = b"") -> bytes:
    lines = [
        f"{method} sip:samtek@127.0.0.1:{port} SIP/2.0",
        "Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK" + call_id,
        "From: <sip:1001@127.0.0.1>;tag=pbx",
        "To: <sip:samtek@127.0.0.1>;tag=us",
        f"Call-ID: {call_id}",
        f"CSeq: 7 {method}",
        *extra,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def malformed(port: int) -> Iterator[bytes]:
    """Each broke, or slipped through, the old parser."""
    notify = "NOTIFY"
    yield request(notify, port, "cl-sup", "Content-Length: ²")  # isdigit() True, int() raises
    yield request(notify, port, "cl-arabic", "Content-Length: ٣", body=b"abc")  # int() takes it
    yield request(notify, port, "cl-float", "Content-Length: 1e3")
    yield request(notify, port, "cl-long", "Content-Length: 99999", body=b"short")
    yield request(notify, port, "cl-two", "Content-Length: 0", "Content-Length: 3", body=b"abc")
    yield request(notify, port, "cseq").replace(b"CSeq: 7", "CSeq: ٧".encode())
    yield "SIP/2.0 ٢٠٠ OK\r\nCSeq: 1 SUBSCRIBE\r\nCall-ID: x\r\n\r\n".encode()
    yield "SIP/2.0 200 OK\r\nVia: a\r\nCSeq: ² SUBSCRIBE\r\nCall-ID: x\r\n\r\n".encode()
    yield b"NOT IFY sip:x SIP/2.0\r\n\r\n"
    yield b"\xff\xfe garbage"


def udp_socket(host: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, 0))
    sock.setblocking(False)
    return sock


def still_connector(peer: SipPeer) -> Running:
    """The standard test connector, with a clock that stands still for the log limits."""
    running = make_connector(peer)
    old = running.connector
    return dataclasses.replace(running, connector=SipConnector(old.config, old.ctx, lambda: 0.0))


async def test_malformed_and_untrusted_datagrams(sip_peer: SipPeer) -> None:
    loop = asyncio.get_running_loop()
    escaped: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: escaped.append(context))
    running = still_connector(sip_peer)
    trusted, stranger = udp_socket("127.0.0.1"), udp_socket("127.0.0.2")
    try:
        async with running_connector(running):
            await running.wait_subscribed({"1001", "1002"})
            address = running.connector.local_address
            assert address is not None
            port = address[1]
            with capture_logs() as logs:
                for _ in range(5):
                    for packet in malformed(port):
                        trusted.sendto(packet, address)
                        stranger.sendto(packet, address)
                for n in range(20):
                    stranger.sendto(request("OPTIONS", port, f"stranger-{n}"), address)
                # The sentinel: answered, and so everything before it was handled.
                trusted.sendto(request("OPTIONS", port, "sentinel"), address)
                answer = await asyncio.wait_for(loop.sock_recv(trusted, 65535), 10)
            assert answer.startswith(b"SIP/2.0 200 OK") and b"sentinel" in answer
            # The old parser's exceptions went to the loop, a traceback per packet.
            assert escaped == []
            # Strangers get nothing back (no 403: UDP sources can be spoofed, a reflection).
            with pytest.raises(BlockingIOError):
                stranger.recv(65535)
            events = [e["event"] for e in logs]
            assert events.count("dropped malformed sip datagram") == BURST
            assert events.count("sip datagram from untrusted host dropped") == BURST
            assert all(
                e["source"].startswith("127.0.0.2:")
                for e in logs
                if e["event"] == "sip datagram from untrusted host dropped"
            )
            assert running.connector.subscriptions().keys() == {"1001", "1002"}
    finally:
        loop.set_exception_handler(previous)
        trusted.close()
        stranger.close()


def utf16_dialog_info_with_entities() -> bytes:
    """dialog-info in UTF-16 with an internal DTD: the old byte search for b"<!DOCTYPE" missed
    it and expat expanded the entities (here 10 x 10 "A"s into the caller's name)."""
    ns = "urn:ietf:params:xml:ns:dialog-info"
    text = f"""<?xml version="1.0" encoding="UTF-16"?>
<!DOCTYPE dialog-info [
  <!ENTITY a "AAAAAAAAAA">
  <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
]>
<dialog-info xmlns="{ns}" version="1" state="full" entity="sip:1001@127.0.0.1">
  <dialog id="evil" call-id="evil" direction="recipient">
    <state>early</state>
    <remote><identity display="&b;">sip:666@127.0.0.1</identity></remote>
  </dialog>
</dialog-info>
"""
    return text.encode("utf-16")


async def test_utf16_dialog_info_with_a_dtd_is_refused(sip_peer: SipPeer) -> None:
    running = make_connector(sip_peer)
    trusted = udp_socket("127.0.0.1")
    try:
        async with running_connector(running):
            subscriptions = await running.wait_subscribed({"1001", "1002"})
            address = running.connector.local_address
            assert address is not None
            body = utf16_dialog_info_with_entities()
            notify = request(
                "NOTIFY", address[1], subscriptions["1001"],
                "Event: dialog", "Subscription-State: active;expires=100",
                "Content-Type: application/dialog-info+xml", f"Content-Length: {len(body)}",
                body=body,
            )  # fmt: skip
            trusted.sendto(notify, address)
            loop = asyncio.get_running_loop()
            answer = await asyncio.wait_for(loop.sock_recv(trusted, 65535), 10)
            assert answer.startswith(b"SIP/2.0 200 OK")

            def reported() -> bool:
                return "1001" in running.health.snapshot().item_errors

            await eventually(reported)
            assert "DTD refused" in running.health.snapshot().item_errors["1001"]
            assert running.calls_of("1001") == []  # no call from the expanded document
    finally:
        trusted.close()


def test_log_limiter_says_how_many_lines_it_left_out() -> None:
    now = [0.0]
    limiter = LogLimiter(burst=2, window=60, monotonic=lambda: now[0])
    assert [limiter.allow("x") for _ in range(5)] == [0, 0, None, None, None]
    assert limiter.allow("y") == 0  # kinds are counted apart
    now[0] = 60.0
    assert limiter.allow("x") == 3  # the first line of the next window reports the gap
    assert limiter.allow("x") == 0
