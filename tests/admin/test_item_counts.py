"""/admin/connectors shows per-item counts: events published and items refused, with reasons
(issue 14, item 1) — for feeds and mailboxes alike, without degrading the part."""

from __future__ import annotations

from samtek.admin.models import PartHealth
from samtek.health import HealthReporter, HealthState, ItemCounts


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


def test_mailbox_refusals_are_reported_without_degrading_the_part() -> None:
    health = HealthReporter("connector:ews1")
    health.success()
    refused = {"AAMk1": "Start or End missing or unreadable"}
    health.item_counts("alice@kommune.no", ItemCounts.of(12, refused))
    health.item_counts("bob@kommune.no", ItemCounts.of(3, {}))
    part = PartHealth.of(health.snapshot(), resyncable=True).model_dump()
    assert part["item_counts"] == {
        "alice@kommune.no": {
            "published": 12,
            "refused": 1,
            "reasons": ["AAMk1: Start or End missing or unreadable"],
        },
        "bob@kommune.no": {"published": 3, "refused": 0, "reasons": []},
    }
    # A refused entry is a data problem in one event, not a failing source.
    assert health.state is HealthState.OK
    health.item_counts("alice@kommune.no", ItemCounts.of(13, {}))  # the item was fixed
    assert health.snapshot().item_counts["alice@kommune.no"].refused == 0
