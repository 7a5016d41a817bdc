"""/admin/connectors shows per-item counts: events published and items refused, with reasons."""

from __future__ import annotations

from samtek.admin.models import PartHealth
from samtek.health import HealthReporter, ItemCounts


def test_counts_and_reasons_reach_the_admin_model() -> None:
    health = HealthReporter("connector:feeds")
    reasons = ("event bomb-1: recurrence refused: FREQ=SECONDLY",)
    health.item_counts("alice", ItemCounts(published=12, refused=1, reasons=reasons))
    health.item_counts("gone", ItemCounts(published=1, refused=0))
    health.item_counts("gone", None)
    out = PartHealth.of(health.snapshot(), resyncable=False).model_dump(mode="json")
    assert out["item_counts"] == {
        "alice": {"published": 12, "refused": 1, "reasons": list(reasons)}
    }
