"""Hand-written HTTP/1.1 requests, for what aiohttp's client will not do on purpose: announce a
body and send only its first bytes, or stream a chunked body of any size."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit


async def status_after_partial_body(
    url: str, declared: int, sent: bytes, headers: dict[str, str] | None = None
) -> int:
    """POST announcing `declared` body bytes, send only `sent`, and return the status.

    A server that waits for the whole body before answering never answers: the caller's
    wait ends in TimeoutError (an upper bound, not a latency check).
    """
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        head = [f"POST {parts.path} HTTP/1.1", f"Host: {parts.netloc}",
                f"Content-Length: {declared}", "Content-Type: application/json"]  # fmt: skip
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + sent)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 10)
        return int(status_line.split()[1])
    finally:
        writer.close()


async def status_of_chunked(
    url: str, total: int, headers: dict[str, str] | None = None, chunk: int = 16 * 1024
) -> int:
    """POST `total` bytes of JSON-ish filler as a chunked body (no Content-Length).

    Stops sending once the server has answered: a server that reads only to its limit
    answers early and may close the connection.
    """
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        head = [f"POST {parts.path} HTTP/1.1", f"Host: {parts.netloc}",
                "Transfer-Encoding: chunked", "Content-Type: application/json"]  # fmt: skip
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
        answer = asyncio.ensure_future(reader.readline())
        sent = 0
        while sent < total and not answer.done():
            size = min(chunk, total - sent)
            writer.write(f"{size:x}\r\n".encode() + b" " * size + b"\r\n")
            sent += size
            try:
                await writer.drain()
            except ConnectionError:
                break  # the server answered and closed: read what it said
        if not answer.done():
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        status_line = await asyncio.wait_for(answer, 10)
        return int(status_line.split()[1])
    finally:
        writer.close()
