"""Helpers for multi-instance tests: a Prosody with one component per SAMTEK instance, configs
for instances sharing one PostgreSQL, and `samtek run` as a real child process."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from samtek.devserver.prosody import ProsodyServer, lua_str
from samtek.store.database import open_database

ROOT = Path(__file__).resolve().parents[2]


def cluster_prosody(instances: int) -> tuple[ProsodyServer, list[str]]:
    """Prosody allows one connection per component JID, so instance i > 1 gets its own
    component `samtek{i}.<domain>`; all of them are trusted by the overlay module.
    Returns the server (not started) and the component JIDs, one per instance."""
    server = ProsodyServer()
    extra = [server.component_jid] + [f"samtek{i}.{server.domain}" for i in range(2, instances + 1)]
    trusted = ", ".join(lua_str(j) for j in extra)
    components = "".join(
        f"\nComponent {lua_str(j)}\n\tcomponent_secret = {lua_str(server.component_secret)}\n"
        for j in extra[1:]
    )
    # Inside the VirtualHost section: the later option wins over the harness's trusted list.
    server.extra_host_config = f"\tsamtek_overlay_trusted = {{ {trusted} }}\n{components}"
    return server, extra


def write_instance_config(
    directory: Path,
    prosody: ProsodyServer,
    component_jid: str,
    store_url: str,
    instance_id: str,
    people: int = 20,
    lease_seconds: float = 10,
    renew_seconds: float = 3,
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    secret = directory / "component.secret"
    secret.write_text(prosody.component_secret)
    persons = "".join(
        f'\n[[people]]\nid = "p{i}"\njid = "p{i}@{prosody.domain}"\nname = "P{i}"\n'
        f'municipality = "kongsberg"\ncalendars = [{{ address = "{directory}/p{i}.ics" }}]\n'
        for i in range(people)
    )
    path = directory / "samtek.toml"
    path.write_text(
        f"""
[xmpp]
domain = "{prosody.domain}"
component_jid = "{component_jid}"
component_secret = "file:{secret}"
port = {prosody.component_port}

[store]
url = "{store_url}"

[http]
port = 0

[cluster]
instance_id = "{instance_id}"
partitions = 32
lease_seconds = {lease_seconds}
renew_seconds = {renew_seconds}

[[municipalities]]
id = "kongsberg"
name = "Kongsberg kommune"
calendar = "feeds"

[connectors.feeds]
type = "ical"
refresh_interval = 5
{persons}
"""
    )
    return path


class SamtekProcess:
    """`samtek run --config …` in a child process of this worktree's code."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.log_path = config.parent / "samtek.log"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "samtek.cli",
                "run",
                "--config",
                str(self.config),
                cwd=ROOT,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.terminate()
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


async def lease_holders(store_url: str) -> dict[str, str]:
    """Unexpired leases, name -> holder, as PostgreSQL sees them now."""
    async with open_database(store_url) as db:
        exists = await db.fetchone("SELECT to_regclass('leases') IS NOT NULL")
        if not exists or not exists[0]:
            return {}  # the instances have not migrated yet
        rows = await db.fetch("SELECT name, holder FROM leases WHERE expires_at > now()")
    return {str(n): str(h) for n, h in rows}


def partitions_of(holders: dict[str, str], instance: str) -> set[str]:
    return {n for n, h in holders.items() if h == instance and n.startswith("partition:")}
