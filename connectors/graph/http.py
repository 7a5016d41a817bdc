"""Graph REST over aiohttp: bearer tokens, bounded concurrency, throttling, retries, $batch.

429/503 carry Retry-After: a 429 for a mailbox pauses that mailbox (Outlook throttles per
app and mailbox), a 503 or a throttled $batch pauses everything. Transient network errors
back off exponentially with jitter. A 401 refreshes the token once; a second one means the
app lost its rights: AuthFailed. 410 on a delta link means the sync state is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import structlog

from connectors.graph.auth import TokenSource
from connectors.graph.config import GraphConfig
from samtek.calendar import CalendarError
from samtek.plugin import AuthFailed
from samtek.runtime.backoff import Backoff
from samtek.runtime.throttle import PauseGate

log = structlog.get_logger("samtek.connectors.graph")
BATCH_LIMIT = 20  # requests per JSON batch
_RETRY_STATUS = {429, 500, 502, 503, 504}


class GraphError(CalendarError):
    def __init__(self, message: str, status: int = 0, code: str = "") -> None:
        super().__init__(message)
        self.status, self.code = status, code


class DeltaExpired(Exception):
    """The delta link is no longer valid (410 Gone, syncStateNotFound): full resync needed."""


def _error_text(status: int, body: Any) -> tuple[str, str]:
    error = body.get("error", {}) if isinstance(body, dict) else {}
    if not isinstance(error, dict):
        return str(error), ""
    return str(error.get("code", status)), str(error.get("message", ""))


def _retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After") if headers else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


class GraphHttp:
    def __init__(self, config: GraphConfig, tokens: TokenSource) -> None:
        self.config = config
        self.tokens = tokens
        self.base = str(config.graph_url).rstrip("/")
        self.gate = PauseGate()
        self.retries = 0
        self._gates: dict[str, PauseGate] = {}
        self._slots = asyncio.Semaphore(config.max_concurrency)
        self._mailbox_slots: dict[str, asyncio.Semaphore] = {}
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            context = ssl.create_default_context(cafile=self.config.ca_file)
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=context, limit=self.config.max_concurrency),
                timeout=aiohttp.ClientTimeout(total=self.config.request_timeout_seconds),
            )
        return self._session

    def mailbox_gate(self, mailbox: str) -> PauseGate:
        return self._gates.setdefault(mailbox, PauseGate())

    @contextlib.asynccontextmanager
    async def _slot(self, mailbox: str | None) -> AsyncIterator[None]:
        async with self._slots:
            if mailbox is None:
                yield
                return
            limit = self.config.per_mailbox_concurrency
            async with self._mailbox_slots.setdefault(mailbox, asyncio.Semaphore(limit)):
                yield

    async def request(
        self,
        method: str,
        url: str,
        *,
        mailbox: str | None = None,
        json: Any = None,
        prefer: tuple[str, ...] = (),
    ) -> Any:
        full = url if url.startswith("https://") or url.startswith("http://") else self.base + url
        what = f"{method} {url.removeprefix(self.base)}"
        attempt, refreshed, backoff = 0, False, self._backoff()
        while True:
            await self.gate.wait()
            if mailbox is not None:
                await self.mailbox_gate(mailbox).wait()
            headers = {"Authorization": f"Bearer {await self.tokens.token()}"}
            if prefer:
                headers["Prefer"] = ", ".join(prefer)
            try:
                async with (
                    self._slot(mailbox),
                    self._client().request(method, full, json=json, headers=headers) as resp,
                ):
                    status, retry_after = resp.status, _retry_after(resp.headers)
                    body = await resp.json(content_type=None) if resp.content_length != 0 else {}
            except (aiohttp.ClientError, TimeoutError) as e:
                delay = backoff.next_delay()
                log.info("Graph request failed, retrying", what=what, error=repr(e), seconds=delay)
                attempt = self._next_attempt(attempt, what, repr(e))
                await asyncio.sleep(delay)
                continue
            if status < 300:
                return body
            code, message = _error_text(status, body)
            if status == 401:
                if refreshed:
                    raise AuthFailed(f"Graph refused the app's token for {what}: {code} {message}")
                refreshed = True
                await self.tokens.token(refresh=True)
                continue
            if status == 410:
                raise DeltaExpired(f"{what}: {code} {message}")
            if status not in _RETRY_STATUS:
                raise GraphError(f"Graph {what} failed: {status} {code}: {message}", status, code)
            delay = retry_after if retry_after is not None else backoff.next_delay()
            gate = self.mailbox_gate(mailbox) if status == 429 and mailbox else self.gate
            gate.pause(delay)
            log.info("Graph asked us to back off", what=what, status=status, seconds=delay)
            attempt = self._next_attempt(attempt, what, f"{status} {code}")

    def _backoff(self) -> Backoff:
        cfg = self.config
        return Backoff(initial=cfg.retry_base_seconds, maximum=cfg.retry_max_seconds)

    def _next_attempt(self, attempt: int, what: str, error: str) -> int:
        if attempt >= self.config.max_retries:
            raise GraphError(f"Graph {what} failed after {attempt + 1} attempts: {error}")
        self.retries += 1
        return attempt + 1

    async def batch(self, requests: list[dict[str, Any]]) -> dict[str, Any]:
        """Run up to 20 sub-requests as one JSON batch; throttled ones are re-sent.

        Returns the body per request id, or a GraphError for a request that failed for good.
        """
        if not 0 < len(requests) <= BATCH_LIMIT:
            raise ValueError(f"a Graph batch takes 1..{BATCH_LIMIT} requests, got {len(requests)}")
        pending = {r["id"]: r for r in requests}
        results: dict[str, Any] = {}
        attempt, backoff = 0, self._backoff()
        while pending:
            payload = {
                "requests": [
                    {
                        "id": r["id"],
                        "method": r["method"],
                        "url": r["url"],
                        **(
                            {"body": r["body"], "headers": {"Content-Type": "application/json"}}
                            if "body" in r
                            else {}
                        ),
                    }
                    for r in pending.values()
                ]
            }
            answer = await self.request("POST", "/$batch", json=payload)
            wait: float | None = None
            for sub in answer.get("responses", []):
                status = int(sub.get("status", 0))
                if status < 300:
                    results[sub["id"]] = sub.get("body")
                    pending.pop(sub["id"], None)
                elif status in _RETRY_STATUS:
                    told = _retry_after(sub.get("headers") or {})
                    delay = told if told is not None else backoff.next_delay()
                    wait = max(wait or 0.0, delay)
                else:
                    code, message = _error_text(status, sub.get("body"))
                    results[sub["id"]] = GraphError(
                        f"Graph batch item {sub['id']} failed: {status} {code}: {message}",
                        status,
                        code,
                    )
                    pending.pop(sub["id"], None)
            if pending:
                attempt = self._next_attempt(attempt, "$batch", f"{len(pending)} throttled")
                self.gate.pause(wait or 0.0)
        return results
