"""The status page: plain HTML with inline CSS, no scripts and no build step.

Meant for a browser or a wall display: every supervised part with its health (failing parts
in red, degraded in amber), the people served per source, and the most recent errors.
"""

from __future__ import annotations

from datetime import datetime
from html import escape

from aiohttp import web

from samtek.admin.context import CONTEXT
from samtek.health import HealthSnapshot, HealthState

RED = (HealthState.FAILING, HealthState.AUTH_FAILED, HealthState.STOPPED)
RECENT_ERRORS = 20

CSS = """
body { font: 15px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 1.5em; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .35em .6em; border-bottom: 1px solid #ddd; }
th { background: #f4f4f4; }
tr.failing td { background: #fde2e2; color: #8b0000; }
tr.degraded td { background: #fff4d6; color: #7a5200; }
tr.ok td.state { color: #1b6e1b; }
.summary span { margin-right: 2em; }
td.error { font-family: ui-monospace, monospace; font-size: .9em; }
"""


def _time(value: datetime | None, now: datetime) -> str:
    if value is None:
        return "–"
    seconds = int((now - value).total_seconds())
    ago = f"{seconds} s ago" if seconds >= 0 else f"in {-seconds} s"
    return f'<time datetime="{value.isoformat()}">{value:%H:%M:%S} ({ago})</time>'


def _row_class(snapshot: HealthSnapshot) -> str:
    if snapshot.state in RED:
        return "failing"
    if snapshot.state is HealthState.DEGRADED:
        return "degraded"
    return snapshot.state.value


def _part_row(snapshot: HealthSnapshot, now: datetime) -> str:
    return (
        f'<tr class="{_row_class(snapshot)}" data-part="{escape(snapshot.name)}"'
        f' data-state="{snapshot.state.value}">'
        f"<td>{escape(snapshot.name)}</td>"
        f'<td class="state">{snapshot.state.value}</td>'
        f"<td>{_time(snapshot.last_success, now)}</td>"
        f'<td class="error">{escape(snapshot.last_error or "–")}</td>'
        f"<td>{_time(snapshot.next_retry, now)}</td>"
        f"<td>{len(snapshot.item_errors)}</td>"
        f"<td>{snapshot.restarts}</td></tr>"
    )


async def page(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    now = ctx.clock.now()
    snapshots = [h.snapshot() for _, h in sorted(ctx.supervisor.health().items())]
    failing = sum(1 for s in snapshots if s.state in RED)
    sources = ", ".join(f"{escape(k)}: {v}" for k, v in sorted(ctx.directory.sources().items()))
    errors = sorted(
        (s for s in snapshots if s.last_error_at is not None),
        key=lambda s: s.last_error_at or now,
        reverse=True,
    )[:RECENT_ERRORS]
    error_rows = "".join(
        f"<tr><td>{_time(s.last_error_at, now)}</td><td>{escape(s.name)}</td>"
        f'<td class="error">{escape(s.last_error or "")}</td></tr>'
        for s in errors
    )
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="30">
<title>SAMTEK status</title><style>{CSS}</style></head>
<body>
<h1>SAMTEK status</h1>
<p class="summary"><span id="people">People: {len(ctx.directory.people())}</span>
<span>Sources: {sources}</span><span>Groups: {len(ctx.directory.groups())}</span>
<span id="failing">Failing parts: {failing}</span>
<span>At {now:%Y-%m-%d %H:%M:%S} UTC</span></p>
<h2>Parts</h2>
<table id="parts"><thead><tr><th>Part</th><th>State</th><th>Last success</th>
<th>Last error</th><th>Next retry</th><th>Item errors</th><th>Restarts</th></tr></thead>
<tbody>{"".join(_part_row(s, now) for s in snapshots)}</tbody></table>
<h2>Recent errors</h2>
<table id="errors"><thead><tr><th>When</th><th>Part</th><th>Error</th></tr></thead>
<tbody>{error_rows or '<tr><td colspan="3">none</td></tr>'}</tbody></table>
</body></html>
"""
    return web.Response(text=body, content_type="text/html")
