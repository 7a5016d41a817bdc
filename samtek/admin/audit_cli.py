"""`samtek audit`: the admin audit log from the store, newest first (works offline)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from samtek.config import Config
from samtek.store import open_store
from samtek.store.audit import AuditLog


def parse_since(value: str | None) -> datetime | None:
    """ISO 8601; without an offset it means UTC."""
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


async def audit_command(
    config: Config, since: datetime | None, actor: str | None, limit: int, as_json: bool
) -> str:
    async with open_store(config.store.url) as store:
        entries = await AuditLog(store.db).query(since, actor, limit)
    if as_json:
        return "\n".join(
            json.dumps(
                {
                    "id": e.id,
                    "at": e.at.isoformat(),
                    "actor": e.actor,
                    "action": e.action,
                    "outcome": e.outcome,
                    "details": e.details,
                },
                ensure_ascii=False,
            )
            for e in entries
        )
    if not entries:
        return "no audit entries"
    return "\n".join(
        f"{e.at:%Y-%m-%d %H:%M:%S}Z  {e.actor:<12} {e.outcome:<7} {e.action}"
        f"  {json.dumps(e.details, ensure_ascii=False)}"
        for e in entries
    )
