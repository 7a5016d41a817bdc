"""The few ARI REST calls the connector makes (Asterisk REST Interface, JSON over HTTP)."""

from __future__ import annotations

from typing import Any

import aiohttp

from samtek.plugin import AuthFailed


class AriError(Exception):
    """An ARI request failed; `status` is the HTTP status (0: no answer)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class AriRest:
    def __init__(self, session: aiohttp.ClientSession, base_url: str, timeout: float) -> None:
        self._session = session
        self._base = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def call(self, method: str, path: str, **params: str) -> Any:
        url = f"{self._base}{path}"
        try:
            async with self._session.request(
                method, url, params=params, timeout=self._timeout
            ) as resp:
                text = await resp.text()
                if resp.status == 401:
                    raise AuthFailed(f"ARI refused the credentials ({method} {path})")
                if resp.status >= 400:
                    raise AriError(
                        f"ARI {method} {path}: HTTP {resp.status} {_message(text)}", resp.status
                    )
                return await resp.json(content_type=None) if text else None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise AriError(f"ARI {method} {path}: {exc or type(exc).__name__}") from exc


def _message(text: str) -> str:
    # ARI errors are {"message": "..."}; keep the log line short either way.
    return text.strip()[:200]
