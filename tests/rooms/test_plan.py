"""The planner as a pure function: lifecycle phases, unmanaged rooms, archive, retention."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from bridges.rooms.plan import (
    ArchiveNotice,
    CreateRoom,
    Destroy,
    Invite,
    Note,
    Observed,
    Phase,
    Reconfigure,
    SetAffiliation,
    TakeOver,
    desired_config,
    phase_of,
    plan_room,
)
from bridges.rooms.spec import Room, RoomSpec

COMPONENT = "samtek.region.test"


def room(**fields: object) -> Room:
    spec = RoomSpec.model_validate({"id": "r", "name": "R", "owners": ["kari"], **fields})
    return Room(
        spec=spec,
        jid="r@conference.region.test",
        owners=frozenset({"kari@region.test"}),
        members=frozenset({"ola@region.test"}),
        source_file=Path("r.toml"),
        calendar=None,
    )


def existing(r: Room, phase: Phase, **config: str) -> Observed:
    affiliations = {"kari@region.test": "owner", "ola@region.test": "member", COMPONENT: "owner"}
    return Observed(True, {**desired_config(r, phase), **config}, affiliations)


def test_phases() -> None:
    r = room(start="2026-01-01", end="2026-03-31")
    assert phase_of(r, date(2025, 12, 31), 90) is Phase.PENDING
    assert phase_of(r, date(2026, 3, 31), 90) is Phase.ACTIVE
    assert phase_of(r, date(2026, 4, 1), 90) is Phase.ARCHIVED
    assert phase_of(r, date(2026, 6, 29), 90) is Phase.ARCHIVED
    assert phase_of(r, date(2026, 6, 30), 90) is Phase.EXPIRED


def test_new_room_is_created_with_affiliations_and_invites() -> None:
    items = plan_room(room(), Observed(False), Phase.ACTIVE, COMPONENT)
    assert isinstance(items[0], CreateRoom)
    assert [type(i) for i in items[1:]] == [SetAffiliation] * 2 + [Invite] * 2


def test_in_sync_room_plans_nothing_and_component_is_ignored() -> None:
    r = room()
    assert plan_room(r, existing(r, Phase.ACTIVE), Phase.ACTIVE, COMPONENT) == []


def test_boolean_fields_compare_by_meaning() -> None:
    r = room()
    observed = existing(r, Phase.ACTIVE, **{"muc#roomconfig_publicroom": ""})
    assert plan_room(r, observed, Phase.ACTIVE, COMPONENT) == []


def test_unmanaged_room_drift_is_only_noted() -> None:
    r = room(unmanaged=True)
    observed = existing(r, Phase.ACTIVE, **{"muc#roomconfig_publicroom": "1"})
    [note] = plan_room(r, observed, Phase.ACTIVE, COMPONENT)
    assert isinstance(note, Note) and "publicroom" in note.text


def test_archive_posts_notice_moderates_and_removes_members() -> None:
    r = room(end="2026-03-31")
    items = plan_room(r, existing(r, Phase.ACTIVE), Phase.ARCHIVED, COMPONENT)
    assert items[0] == ArchiveNotice(
        r.jid,
        "Prosjektet er avsluttet. Rommet er arkivert: bare"
        " eierne har tilgang videre, historikken er bevart.",
    )
    nynorsk = room(end="2026-03-31", language="nn")
    [notice, *_] = plan_room(nynorsk, existing(nynorsk, Phase.ACTIVE), Phase.ARCHIVED, COMPONENT)
    assert isinstance(notice, ArchiveNotice) and notice.text.startswith("Prosjektet er avslutta.")
    assert isinstance(items[1], Reconfigure)
    assert items[1].changes == (("muc#roomconfig_moderatedroom", "0", "1"),)
    assert items[2:] == [SetAffiliation(r.jid, "ola@region.test", "member", "none")]


def test_retention_destroys_only_when_allowed() -> None:
    r = room(end="2026-03-31")
    with_history = Observed(True, {}, {}, has_history=True)
    without = Observed(True, {}, {}, has_history=False)
    [kept] = plan_room(r, with_history, Phase.EXPIRED, COMPONENT)
    assert isinstance(kept, Note)
    assert plan_room(r, without, Phase.EXPIRED, COMPONENT) == [
        Destroy(r.jid, "retention over, no history")
    ]
    allowed = room(end="2026-03-31", destroy_history_on_retention=True)
    assert plan_room(allowed, with_history, Phase.EXPIRED, COMPONENT) == [
        Destroy(r.jid, "retention over")
    ]
    assert plan_room(allowed, Observed(False), Phase.EXPIRED, COMPONENT) == []


def test_room_whose_end_has_passed_is_not_created_and_the_plan_says_why() -> None:
    items = plan_room(room(end="2026-03-31"), Observed(False), Phase.ARCHIVED, COMPONENT)
    assert len(items) == 1 and isinstance(items[0], Note)
    assert "end date 2026-03-31 has passed" in items[0].text


def test_every_config_field_is_owned_and_a_foreign_room_is_taken_over() -> None:
    """Issue 13, item 5: a pre-created room keeps nothing of its creator's configuration."""
    r = room()
    squatted = Observed(
        True,
        {
            **desired_config(r, Phase.ACTIVE),
            "muc#roomconfig_roomsecret": "hunter2",
            "muc#roomconfig_whois": "anyone",
            "muc#roomconfig_presencebroadcast": ["moderator"],
            "x-other#field": "1",
        },
        {"mallory@region.test": "owner"},
    )
    items = plan_room(r, squatted, Phase.ACTIVE, COMPONENT)
    note, reconfigure, take_over = items[:3]
    assert isinstance(note, Note) and "x-other#field" in note.text
    assert isinstance(reconfigure, Reconfigure)
    assert {f for f, _, _ in reconfigure.changes} == {
        "muc#roomconfig_roomsecret",
        "muc#roomconfig_whois",
        "muc#roomconfig_presencebroadcast",
    }
    assert "hunter2" not in reconfigure.describe()
    assert take_over == TakeOver(r.jid, ("mallory@region.test",))
    assert SetAffiliation(r.jid, "mallory@region.test", "owner", "none") in items
    # list fields compare as sets; fields the server does not offer are left alone
    same = existing(r, Phase.ACTIVE)
    reordered = dict(same.config)
    reordered["muc#roomconfig_presencebroadcast"] = ["visitor", "moderator", "participant"]
    del reordered["muc#roomconfig_enablearchiving"]
    observed = Observed(True, reordered, same.affiliations)
    assert plan_room(r, observed, Phase.ACTIVE, COMPONENT) == []
