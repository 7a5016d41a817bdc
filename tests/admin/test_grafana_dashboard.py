"""deploy/grafana/samtek.json queries only metrics that a running SAMTEK exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import aiohttp

from tests.admin.conftest import AdminRegion

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "samtek.json"
METRIC = re.compile(r"\bsamtek_[a-z_]+")
SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_created")


def exported_names(exposition: str) -> set[str]:
    names = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            name, kind = line.split()[2:4]
            names.add(name)
            if kind == "counter":
                names.add(f"{name}_total")
            if kind == "histogram":
                names |= {f"{name}{s}" for s in SUFFIXES}
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


async def test_every_dashboard_query_names_an_exported_metric(admin_region: AdminRegion) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in METRIC.findall(target["expr"])
    }
    assert len(queried) >= 10
    async with (
        aiohttp.ClientSession() as http,
        http.get(admin_region.base + "/metrics") as response,
    ):
        exported = exported_names(await response.text())
    assert queried - exported == set()
