"""Adds the admin side to a Service: /admin API and status page, /metrics, audit retention."""

from __future__ import annotations

from typing import TYPE_CHECKING

from samtek.admin.api import build_admin_app
from samtek.admin.context import AdminContext
from samtek.store import Store
from samtek.store.audit import AuditLog

if TYPE_CHECKING:
    from samtek.app import Service


async def mount_admin(service: Service, store: Store) -> AdminContext:
    """Call after the parts are built and before the supervisor starts the HTTP server."""
    settings = service.config.file.admin
    audit = AuditLog(store.db, store.clock)
    await audit.prune(settings.audit_retention_days)
    ctx = AdminContext(
        settings=settings,
        supervisor=service.supervisor,
        directory=service.directory,
        audit=audit,
        connectors=service.connectors,
        presence=service.presence,
        clock=service.clock,
    )
    service.web.mount("/admin", build_admin_app(ctx))
    service.metrics.watch(service.supervisor, service.bus, service.directory, service.connectors)
    service.web.add_routes(service.metrics.routes())
    return ctx
