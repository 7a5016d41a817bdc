"""The file directory connector: publishes a CSV/TOML people file, again on every change.

The file is watched with inotify (watchfiles), so an edit is seen at once; reading and
parsing run in a worker thread. A missing or unreadable file fails the connector (the
supervisor retries with backoff); invalid rows are item errors and the others are served.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Literal

import structlog
import watchfiles

from connectors.dirfile.parse import Parsed, parse
from samtek.events import DirectoryUpdate
from samtek.plugin import Connector, ConnectorConfig, ConnectorContext

log = structlog.get_logger("samtek.dirfile")


class FileDirectoryConfig(ConnectorConfig):
    path: Path
    format: Literal["csv", "toml"] | None = None  # from the file name when unset
    jid_template: str | None = None  # for rows without a jid: "{id}@region.test"


class FileDirectoryConnector(Connector):
    config_model = FileDirectoryConfig
    config: FileDirectoryConfig

    def __init__(self, config: ConnectorConfig, ctx: ConnectorContext) -> None:
        super().__init__(config, ctx)
        self._bad: frozenset[str] = frozenset()  # rows currently reported as item errors
        self.syncs = 0

    async def resync(self) -> None:
        await self._publish()

    async def run(self) -> None:
        path = self.config.path.resolve()
        await self._publish()
        async for changes in watchfiles.awatch(path.parent, debounce=50, step=20):
            if any(Path(changed).resolve() == path for _, changed in changes):
                await self._publish()

    async def _publish(self) -> None:
        parsed = await asyncio.to_thread(self._read)
        for where, reason in parsed.errors.items():
            self.ctx.health.item_error(where, reason)
        for where in self._bad - parsed.errors.keys():
            self.ctx.health.item_ok(where)
        self._bad = frozenset(parsed.errors)
        groups = {name: frozenset(ids) for name, ids in parsed.groups.items()}
        await self.ctx.bus.publish(DirectoryUpdate(self.name, tuple(parsed.people), groups))
        self.syncs += 1
        self.ctx.health.success()
        log.info(
            "directory file read",
            connector=self.name,
            people=len(parsed.people),
            errors=len(parsed.errors),
        )

    def _read(self) -> Parsed:
        path = self.config.path
        kind = self.config.format or ("toml" if path.suffix.lower() == ".toml" else "csv")
        try:
            text = path.read_text(encoding="utf-8-sig")  # -sig: Excel's BOM
        except OSError as exc:
            reason = os.strerror(exc.errno or 0)
            raise OSError(f"cannot read directory file {path}: {reason}") from None
        return parse(text, kind, self.config.jid_template)
