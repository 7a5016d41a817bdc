"""The status page: plain HTML with inline CSS and SVG, no scripts and no build step.

Meant for a browser or a wall display: every supervised part with its health (failing parts
in red, degraded in amber, with the state in words too), what is wrong in plain words and how
to fix it, the people served, and small charts of the last hour (transitions per minute,
people overlaid now per municipality, connector sync time).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from html import escape

from aiohttp import web

from samtek.admin.advice import advise, plain
from samtek.admin.context import CONTEXT, RoomRequests
from samtek.admin.history import Sample
from samtek.health import HealthSnapshot, HealthState

RED = (HealthState.FAILING, HealthState.AUTH_FAILED, HealthState.STOPPED)
RECENT_ERRORS = 20

CSS = """
body { font: 15px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 1.5em; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .35em .6em; border-bottom: 1px solid #ddd; }
td { vertical-align: top; }
th { background: #f4f4f4; }
tr.failing td { background: #fde2e2; color: #8b0000; }
tr.degraded td { background: #fff4d6; color: #7a5200; }
tr.ok td.state { color: #1b6e1b; }
.summary span { margin-right: 2em; }
.cause { font-weight: 600; } .fix { display: block; color: #333; }
details { font-family: ui-monospace, monospace; font-size: .85em; color: #555; }
.charts { display: flex; flex-wrap: wrap; gap: 1.5em; }
figure { margin: 0; } figcaption { font-size: .9em; color: #444; }
svg.spark { background: #fafafa; border: 1px solid #e4e4e4; }
"""


def _span(seconds: int) -> str:
    seconds = abs(seconds)
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    return f"{round(seconds / 3600)} h"


def _time(value: datetime | None, now: datetime) -> str:
    """'12:03:04 (3 min ago)', or for a time to come: 'in 25 s (12:05:00)'."""
    if value is None:
        return "–"
    elapsed = (now - value).total_seconds()
    tag = f'<time datetime="{value.isoformat()}">{value:%H:%M:%S}</time>'
    if elapsed < 0:
        return f"in {_span(math.ceil(-elapsed))} ({tag})"
    return f"{tag} ({_span(int(elapsed))} ago)" if elapsed >= 1 else f"{tag} (now)"


def _row_class(snapshot: HealthSnapshot) -> str:
    if snapshot.state in RED:
        return "failing"
    if snapshot.state is HealthState.DEGRADED:
        return "degraded"
    return snapshot.state.value


def explain(part: str, error: str | None) -> str:
    """The error as an admin reads it: cause and fix when known, the raw text folded away."""
    if not error:
        return "–"
    advice = advise(part, error)
    said = escape(plain(error))
    if advice is None:
        return said
    return (
        f'<span class="cause">{escape(advice.cause)}</span>'
        f'<span class="fix">Fix: {escape(advice.fix)}</span>'
        f"<details><summary>details</summary>{said}</details>"
    )


def _part_row(snapshot: HealthSnapshot, now: datetime) -> str:
    return (
        f'<tr class="{_row_class(snapshot)}" data-part="{escape(snapshot.name)}"'
        f' data-state="{snapshot.state.value}">'
        f"<td>{escape(snapshot.name)}</td>"
        f'<td class="state">{snapshot.state.value}{progress(snapshot, now)}</td>'
        f"<td>{_time(snapshot.last_success, now)}</td>"
        f'<td class="error">{explain(snapshot.name, snapshot.last_error)}</td>'
        f"<td>{_time(snapshot.next_retry, now)}</td>"
        f"<td>{len(snapshot.item_errors)}</td>"
        f"<td>{snapshot.restarts}</td></tr>"
    )


def progress(snapshot: HealthSnapshot, now: datetime) -> str:
    """'rooms applied: 120 of 1,000, about 20 s left' under the state, while work runs."""
    work = snapshot.progress
    if work is None:
        return ""
    left = work.remaining_seconds(now)
    estimate = f", about {_span(math.ceil(left))} left" if left is not None else ""
    return (
        f'<span class="progress fix">{escape(work.what)}: {work.done:,} of {work.total:,}'
        f"{estimate}</span>"
    )


def sparkline(values: Sequence[float], label: str, unit: str = "") -> str:
    """A small inline SVG line chart of the last hour; text says the latest and the peak."""
    width, height = 240, 48
    latest = values[-1] if values else 0.0
    peak = max(values, default=0.0)
    caption = f"{escape(label)}: {_number(latest)}{unit} now, peak {_number(peak)}{unit}"
    if len(values) < 2:
        points = ""
    else:
        top = peak or 1.0
        step = width / (len(values) - 1)
        points = " ".join(
            f"{i * step:.1f},{height - 2 - (v / top) * (height - 4):.1f}"
            for i, v in enumerate(values)
        )
    return (
        f'<figure><svg class="spark" role="img" aria-label="{caption}" width="{width}"'
        f' height="{height}" viewBox="0 0 {width} {height}">'
        f'<polyline fill="none" stroke="#2a6ebb" stroke-width="2" points="{points}"/></svg>'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def _number(value: float) -> str:
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.2f}"


def charts(samples: Sequence[Sample]) -> str:
    if not samples:
        return "<p>No samples yet: the first comes within a minute of the start.</p>"
    parts = [sparkline([s.transitions for s in samples], "Presence transitions per minute")]
    municipalities = sorted({m for s in samples for m in s.overlaid})
    for municipality in municipalities:
        series = [float(s.overlaid.get(municipality, 0)) for s in samples]
        parts.append(sparkline(series, f"People overlaid now, {municipality}"))
    connectors = sorted({c for s in samples for c in s.sync_seconds})
    for connector in connectors:
        series = [s.sync_seconds.get(connector, 0.0) for s in samples]
        parts.append(sparkline(series, f"Sync time, {connector}", " s"))
    return f'<div class="charts">{"".join(parts)}</div>'


async def _waiting_requests(requests: RoomRequests | None) -> str:
    """Project rooms asked for in chat that wait for an admin (approve with the API)."""
    if requests is None:
        return ""
    pending = [r for r in await requests.list() if r.state == "pending"]
    if not pending:
        return ""
    items = "".join(
        f"<li>{escape(str(r.spec.get('name', '')))} ({escape(r.requester)}, {escape(r.id)})</li>"
        for r in pending
    )
    return (
        f'<h2>Room requests waiting for approval: {len(pending)}</h2><ul id="requests">{items}'
        "</ul><p>Approve or reject: POST /admin/rooms/_requests/&lt;id&gt;/approve or"
        " /reject with a reason.</p>"
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
        f'<td class="error">{explain(s.name, s.last_error)}</td></tr>'
        for s in errors
    )
    history = charts(list(ctx.history.samples) if ctx.history is not None else [])
    waiting = await _waiting_requests(ctx.room_requests)
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
{waiting}<h2>Parts</h2>
<table id="parts"><thead><tr><th>Part</th><th>State</th><th>Last success</th>
<th>What is wrong</th><th>Next retry</th><th>Item errors</th><th>Restarts</th></tr></thead>
<tbody>{"".join(_part_row(s, now) for s in snapshots)}</tbody></table>
<h2>Last hour</h2>
{history}
<h2>Recent errors</h2>
<table id="errors"><thead><tr><th>When</th><th>Part</th><th>What is wrong</th></tr></thead>
<tbody>{error_rows or '<tr><td colspan="3">none</td></tr>'}</tbody></table>
</body></html>
"""
    return web.Response(text=body, content_type="text/html")
