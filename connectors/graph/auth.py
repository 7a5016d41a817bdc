"""App-only access tokens (client credentials) from Entra ID via MSAL.

MSAL is synchronous (requests) and its constructor already does network I/O (OIDC
discovery), so both run in a one-thread executor. Instance discovery is switched off:
the authority is configured explicitly (sovereign clouds, test fakes).
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import msal
import requests

from connectors.graph.config import GraphConfig
from samtek.calendar import CalendarError
from samtek.plugin import AuthFailed

# Token endpoint errors that retrying cannot fix (RFC 6749 §5.2).
_PERMANENT = {
    "invalid_client",
    "unauthorized_client",
    "invalid_grant",
    "invalid_scope",
    "invalid_request",
    "unsupported_grant_type",
}
_EARLY_REFRESH = 300.0  # seconds before expiry


class _HttpClient:
    """The http_client MSAL calls (get/post/close) with our CA bundle per request:
    a session-level `verify` would lose against REQUESTS_CA_BUNDLE from the environment."""

    def __init__(self, ca_file: str | None) -> None:
        self._session = requests.Session()
        self._verify: str | bool = ca_file or True

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("verify", self._verify)
        return self._session.get(url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("verify", self._verify)
        return self._session.post(url, **kwargs)

    def close(self) -> None:
        self._session.close()


class TokenSource:
    def __init__(self, config: GraphConfig) -> None:
        self.config = config
        self._pool: ThreadPoolExecutor | None = None  # made on use: run() may be restarted
        self._lock = asyncio.Lock()
        self._app: msal.ConfidentialClientApplication | None = None
        self._token: str | None = None
        self._expires = 0.0
        self.acquired = 0

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    async def token(self, *, refresh: bool = False) -> str:
        async with self._lock:
            if refresh or self._token is None or time.monotonic() > self._expires:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(1, thread_name_prefix="graph-token")
                result = await asyncio.get_running_loop().run_in_executor(
                    self._pool, self._acquire, refresh
                )
                self._token = str(result["access_token"])
                lifetime = float(result.get("expires_in", 3600))
                self._expires = time.monotonic() + max(lifetime - _EARLY_REFRESH, lifetime / 2)
                self.acquired += 1
            return self._token

    def _acquire(self, fresh_app: bool) -> dict[str, Any]:
        cfg = self.config
        authority = f"{str(cfg.authority_host).rstrip('/')}/{cfg.tenant_id}"
        try:
            if self._app is None or fresh_app:  # a new app drops MSAL's cached token
                self._app = msal.ConfidentialClientApplication(
                    cfg.client_id,
                    client_credential=cfg.client_secret.get_secret_value(),
                    authority=authority,
                    http_client=_HttpClient(cfg.ca_file),
                    instance_discovery=False,
                    timeout=cfg.request_timeout_seconds,
                )
            result = self._app.acquire_token_for_client(scopes=[cfg.scope])
        except (requests.RequestException, ValueError) as e:
            self._app = None
            raise CalendarError(f"token request to {authority} failed: {e}") from e
        if "access_token" in result:
            return dict(result)
        error = str(result.get("error"))
        text = f"{error}: {result.get('error_description', '')}".strip()
        if error in _PERMANENT:
            raise AuthFailed(
                f"Entra ID refused client {cfg.client_id!r} of tenant {cfg.tenant_id!r}: {text}"
            )
        raise CalendarError(f"token request to {authority} failed: {text}")
