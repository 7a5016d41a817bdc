"""Versioned schema migrations, applied in order on start (the upgrade path of deploy/)."""

from __future__ import annotations

import structlog

from samtek.store.database import Database

log = structlog.get_logger("samtek.store")

# Append only. Each entry runs once, in its own transaction, and bumps schema_version.
MIGRATIONS: list[str] = [
    # 1: connector state, calendar snapshots, presence dismissals, notification de-duplication
    """
    CREATE TABLE connector_state (
        namespace TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (namespace, key)
    );
    CREATE TABLE calendar_snapshots (
        source TEXT NOT NULL,
        person_id TEXT NOT NULL,
        window_start TEXT NOT NULL,
        window_end TEXT NOT NULL,
        events TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (source, person_id)
    );
    CREATE TABLE presence_dismissals (
        person_id TEXT PRIMARY KEY,
        transition TEXT NOT NULL,
        until TEXT NOT NULL
    );
    CREATE TABLE notifications_sent (
        key TEXT PRIMARY KEY,
        sent_at TEXT NOT NULL
    );
    """,
    # 2: telephony: webhook event ids seen recently (replay protection; pruned by age) and
    #    the last non-idle device state per phone (phone presence right at once after restart)
    """
    CREATE TABLE webhook_events (
        source TEXT NOT NULL,
        event_id TEXT NOT NULL,
        seen_at TEXT NOT NULL,
        PRIMARY KEY (source, event_id)
    );
    CREATE INDEX webhook_events_age ON webhook_events (source, seen_at);
    CREATE TABLE phone_states (
        source TEXT NOT NULL,
        extension TEXT NOT NULL,
        state TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (source, extension)
    );
    """,
    # 3: audit log of admin actions (who/what/when/details JSON)
    """
    CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        outcome TEXT NOT NULL,
        details TEXT NOT NULL
    );
    CREATE INDEX audit_log_at ON audit_log (at);
    CREATE INDEX audit_log_actor ON audit_log (actor, at);
    """,
    # 4: leases shared by several instances (samtek/runtime/leases.py); expires_at is a
    # PostgreSQL timestamptz set from the database's clock. With SQLite (one instance) the
    # lease manager never touches it, so the type only has to be accepted there.
    """
    CREATE TABLE leases (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        expires_at TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE cluster_members (
        instance_id TEXT PRIMARY KEY,
        expires_at TIMESTAMPTZ NOT NULL
    );
    """,
]


async def migrate(db: Database) -> int:
    """Bring the schema up to date; returns the resulting version.

    The SQL must run on SQLite and PostgreSQL alike: TEXT/INTEGER columns, ON CONFLICT.
    """
    async with db.migration_lock():
        await db.script("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = await db.fetchone("SELECT MAX(version) FROM schema_version")
        current = int(row[0]) if row and row[0] is not None else 0
        for version, sql in enumerate(MIGRATIONS[current:], start=current + 1):
            await db.script(
                f"BEGIN;\n{sql}\nINSERT INTO schema_version (version) VALUES ({version});\nCOMMIT;"
            )
            log.info("store migrated", version=version)
    return len(MIGRATIONS)
