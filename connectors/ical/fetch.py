"""Fetching one feed: conditional GET, bounded size, time and redirects; or a local file."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import aiohttp

from samtek.calendar import CalendarError
from samtek.redact import redact_text
from samtek.redact import redact_url as redact

CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class Validators:
    """What a server gave us to ask "changed since?" (ETag / Last-Modified, or file stat)."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class Fetched:
    body: bytes | None  # None: not modified
    validators: Validators


def local_path(address: str) -> Path | None:
    """The file behind a `file://` URL or an absolute path; None for http(s)."""
    parsed = urlparse(address)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme == "" and address.startswith("/"):
        return Path(address)
    return None


async def fetch_http(
    session: aiohttp.ClientSession,
    url: str,
    validators: Validators,
    max_bytes: int,
    time_limit: float,
    max_redirects: int,
) -> Fetched:
    headers = {}
    if validators.etag:
        headers["If-None-Match"] = validators.etag
    if validators.last_modified:
        headers["If-Modified-Since"] = validators.last_modified
    try:
        async with session.get(
            url,
            headers=headers,
            max_redirects=max_redirects,
            timeout=aiohttp.ClientTimeout(total=time_limit),
        ) as response:
            if response.status == 304:
                return Fetched(None, validators)
            if response.status != 200:
                raise CalendarError(f"HTTP {response.status} {response.reason} from {redact(url)}")
            declared = response.content_length
            if (
                declared is not None
                and declared > max_bytes
                and not response.headers.get("Content-Encoding")
            ):
                raise CalendarError(_too_big(url, max_bytes))
            body = bytearray()
            # Counted after decompression, so a gzip bomb is stopped as early as a huge file.
            async for chunk in response.content.iter_chunked(CHUNK):
                body += chunk
                if len(body) > max_bytes:
                    raise CalendarError(_too_big(url, max_bytes))
            return Fetched(
                bytes(body),
                Validators(response.headers.get("ETag"), response.headers.get("Last-Modified")),
            )
    except aiohttp.TooManyRedirects:
        raise CalendarError(f"more than {max_redirects} redirects from {redact(url)}") from None
    except TimeoutError:
        raise CalendarError(
            f"no complete answer within {time_limit:g} s from {redact(url)}"
        ) from None
    except aiohttp.ClientError as exc:
        raise CalendarError(f"cannot fetch {redact(url)}: {redact_text(str(exc))}") from None


async def read_file(path: Path, validators: Validators, max_bytes: int) -> Fetched:
    def read() -> Fetched:
        try:
            stat = path.stat()
            stamp = f"{stat.st_mtime_ns}-{stat.st_size}"
            if stamp == validators.etag:
                return Fetched(None, validators)
            if stat.st_size > max_bytes:
                raise CalendarError(f"{path} is {stat.st_size} bytes, over the limit {max_bytes}")
            return Fetched(path.read_bytes(), Validators(etag=stamp))
        except OSError as exc:
            raise CalendarError(f"cannot read {path}: {exc.strerror}") from None

    return await asyncio.to_thread(read)


def _too_big(url: str, max_bytes: int) -> str:
    return f"feed {redact(url)} is larger than the limit of {max_bytes} bytes"
