"""A small async WebDAV/CalDAV HTTP client on aiohttp with clear, credential-free errors."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import urljoin

import aiohttp
from yarl import URL

from connectors.caldav import davxml
from connectors.caldav.config import BasicAuth, BearerAuth, CalDavConfig
from samtek.calendar import CalendarError
from samtek.redact import redact_text, redact_url

XML_TYPE = "application/xml; charset=utf-8"
MAX_REDIRECTS = 4
_REDIRECTS = (301, 302, 307, 308)
_FOLLOW = ("GET", "PROPFIND", "REPORT")  # reads only: a write goes exactly where it was aimed


def redact(url: str | URL) -> str:
    """The URL as it may appear in logs and health (the service's one redaction function)."""
    return redact_url(str(url))


class CalDavError(CalendarError):
    """A request failed; the message names method, URL (redacted) and reason."""


class CalDavTimeout(CalDavError):
    """No answer within the request timeout (the server may still be working on it)."""


class CalDavHttpError(CalDavError):
    def __init__(self, method: str, url: str, status: int, detail: str = "") -> None:
        self.method, self.url, self.status = method, redact(url), status
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "unknown status"
        hint = {
            401: " (credentials refused: check the connector's auth settings)",
            403: " (the service account lacks rights on this collection)",
            404: " (no such calendar or principal)",
        }.get(status, "")
        text = f"{method} {self.url} -> {status} {phrase}{hint}"
        # Servers' bodies for these are boilerplate ("forbidden" for a 401); the hint is clearer.
        if detail and not hint:
            text = f"{text}: {detail}"
        super().__init__(text)

    @property
    def auth_failed(self) -> bool:
        return self.status == 401

    @property
    def transient(self) -> bool:
        return self.status in (408, 425, 429) or self.status >= 500


@dataclass(frozen=True)
class DavResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str


class DavClient:
    """One aiohttp session for one CalDAV server; requests outside its origin are refused."""

    def __init__(self, config: CalDavConfig, session: aiohttp.ClientSession) -> None:
        self._base = URL(str(config.url))
        self._session = session
        self._headers: dict[str, str] = {"User-Agent": "samtek-caldav/0.1"}
        auth = config.auth
        if isinstance(auth, BasicAuth):
            self._headers["Authorization"] = aiohttp.encode_basic_auth(
                auth.username, auth.password.get_secret_value()
            )
        elif isinstance(auth, BearerAuth):
            self._headers["Authorization"] = f"Bearer {auth.token.get_secret_value()}"
        self._timeout = aiohttp.ClientTimeout(total=config.request_timeout.total_seconds())
        self._ssl: bool | ssl.SSLContext = config.verify_tls  # True: the system CAs
        if config.verify_tls and config.ca_file is not None:
            self._ssl = ssl.create_default_context(cafile=str(config.ca_file))

    @property
    def base_url(self) -> str:
        return str(self._base)

    def resolve(self, address: str) -> str:
        """An absolute URL for a directory address; refuses other origins."""
        url = self._base.join(URL(address))
        if url.origin() != self._base.origin():
            raise CalDavError(
                f"address {redact(str(url))} is not on the configured server "
                f"{redact(str(self._base))}; refusing to send credentials there"
            )
        return str(url)

    async def request(
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        ok: tuple[int, ...] = (200, 207),
    ) -> DavResponse:
        all_headers = {**self._headers, **(headers or {})}
        target = self.resolve(url)
        for _ in range(MAX_REDIRECTS):
            result = await self._send(method, target, body, all_headers)
            location = result.headers.get("Location")
            if result.status not in _REDIRECTS or method not in _FOLLOW or not location:
                break
            # e.g. a collection URL without its trailing slash; other origins are refused
            target = self.resolve(urljoin(target, location))
        if result.status not in ok:
            raise CalDavHttpError(method, target, result.status, _detail(result.body))
        return result

    async def _send(
        self, method: str, url: str, body: bytes | None, headers: Mapping[str, str]
    ) -> DavResponse:
        try:
            async with self._session.request(
                method,
                url,
                data=body,
                headers=headers,
                timeout=self._timeout,
                ssl=self._ssl,
                allow_redirects=False,  # followed in request(), on this origin only
            ) as response:
                data = await response.read()
                return DavResponse(response.status, dict(response.headers), data, str(response.url))
        except TimeoutError as exc:
            seconds = self._timeout.total
            raise CalDavTimeout(f"{method} {redact(url)} timed out after {seconds:g} s") from exc
        except aiohttp.ClientError as exc:
            raise CalDavError(
                f"{method} {redact(url)} failed: {exc.__class__.__name__}: {redact_text(str(exc))}"
            ) from exc

    async def propfind(self, url: str, names: list[str], depth: int) -> davxml.Multistatus:
        response = await self.request(
            "PROPFIND",
            url,
            davxml.propfind(names),
            {"Depth": str(depth), "Content-Type": XML_TYPE},
            ok=(207,),
        )
        return self._multistatus(response, "PROPFIND")

    async def report(self, url: str, body: bytes, depth: int) -> davxml.Multistatus:
        response = await self.request(
            "REPORT", url, body, {"Depth": str(depth), "Content-Type": XML_TYPE}, ok=(207,)
        )
        return self._multistatus(response, "REPORT")

    def _multistatus(self, response: DavResponse, method: str) -> davxml.Multistatus:
        try:
            return davxml.parse_multistatus(response.body, response.url)
        except davxml.DavXmlError as exc:
            raise CalDavError(f"{method} {redact(response.url)}: {exc}") from exc


def _detail(body: bytes) -> str:
    condition = davxml.error_condition(body)
    if condition:
        return f"precondition {condition}"
    text = body[:200].decode("utf-8", "replace").strip()
    return " ".join(text.split())
