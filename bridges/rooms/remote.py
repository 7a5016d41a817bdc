"""The running service's rooms daemon, reached through the admin API from the CLI."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import aiohttp

from samtek.config import Config

ASK_TIMEOUT = 60.0  # a plan of a large region reads every room's configuration


@dataclass(frozen=True)
class RunningInstance:
    base: str  # http://host:port
    token: str

    async def print_plan(self) -> int:
        headers = {"Authorization": f"Bearer {self.token}"}
        timeout = aiohttp.ClientTimeout(total=ASK_TIMEOUT)
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.get(f"{self.base}/admin/rooms/_plan", headers=headers) as response,
        ):
            body = await response.json(content_type=None)
        if response.status != 200:
            print(f"the running service answered {response.status}: {body.get('error')}",
                  file=sys.stderr)  # fmt: skip
            for field in body.get("fields", []):
                print(f"{field['field']}: {field['message']}", file=sys.stderr)
            return 1
        for line in body["lines"]:
            print(line)
        print(f"{body['changes']} change(s)" if body["changes"] else "no changes")
        print(f"(planned by the running service at {self.base})", file=sys.stderr)
        return 0


async def running_instance(config: Config) -> RunningInstance | None:
    """The local service if it answers on its admin listener, with a token to ask it."""
    http = config.file.http
    tokens = config.file.admin.tokens
    if http.admin_bind_port == 0 or not tokens:
        return None  # no fixed port, or no way to authenticate: plan locally
    host = "127.0.0.1" if http.admin_host in ("0.0.0.0", "::", "") else http.admin_host
    base = f"http://{host}:{http.admin_bind_port}"
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session,
            session.get(f"{base}/admin/health/live") as response,
        ):
            if response.status != 200:
                return None
    except (aiohttp.ClientError, TimeoutError):
        return None  # nothing listens there: the service is stopped
    return RunningInstance(base, tokens[0].token.get_secret_value())
