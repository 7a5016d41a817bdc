"""Per-feed/mailbox counts in health reach the admin API model (issue 14, item 1)."""

from samtek.admin.models import PartHealth
from samtek.health import HealthReporter, HealthState


def test_counts_and_refusals_are_reported_without_degrading_the_part() -> None:
    health = HealthReporter("connector:ews1")
    health.success()
    health.item_counts("alice@kommune.no", 12, {"AAMk1": "Start or End missing or unreadable"})
    health.item_counts("bob@kommune.no", 3, {})
    part = PartHealth.of(health.snapshot(), resyncable=True).model_dump()
    assert part["item_counts"] == {
        "alice@kommune.no": {
            "published": 12,
            "refused": {"AAMk1": "Start or End missing or unreadable"},
        },
        "bob@kommune.no": {"published": 3, "refused": {}},
    }
    # A refused entry is a data problem in one event, not a failing source.
    assert health.state is HealthState.OK
    health.item_counts("alice@kommune.no", 13, {})  # the item was fixed
    assert health.snapshot().item_counts["alice@kommune.no"].refused == {}
