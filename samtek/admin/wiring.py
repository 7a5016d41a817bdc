"""Adds the admin side to a Service: /admin API and status page, /metrics, audit retention.

All of it on the admin listener (samtek/web.py), never on the public one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from samtek.admin.api import build_admin_app
from samtek.admin.context import AdminContext
from samtek.admin.history import StatusHistory
from samtek.health import HealthReporter
from samtek.store import Store
from samtek.store.audit import AuditLog

if TYPE_CHECKING:
    from samtek.app import Service


async def mount_admin(service: Service, store: Store) -> AdminContext:
    """Call after the parts are built and before the supervisor starts the HTTP server."""
    settings = service.config.file.admin
    audit = AuditLog(store.db, store.clock)
    presence = service.presence
    history = StatusHistory(
        service.metrics.transitions,
        service.directory.people,
        presence.overlaid if presence is not None else list,
        service.connectors,
        HealthReporter("status-history", service.clock),
        service.clock,
    )
    service.supervisor.add("status-history", history.run, history.health)
    ctx = AdminContext(
        settings=settings,
        supervisor=service.supervisor,
        directory=service.directory,
        audit=audit,
        connectors=service.connectors,
        presence=service.presence,
        rooms=service.rooms.specs if service.rooms is not None else None,
        room_requests=service.rooms.requests if service.rooms is not None else None,
        history=history,
        clock=service.clock,
    )
    service.web.mount_admin("/admin", build_admin_app(ctx), max_body_bytes=settings.max_body_bytes)
    service.metrics.watch(
        service.supervisor, service.bus, service.directory, service.connectors, service.leases
    )
    service.web.add_admin_routes(service.metrics.routes())
    return ctx
