"""Phone state -> claims and overlay, missed-call texts: pure functions, no servers."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bridges.presence.phone import PHONE_HORIZON, phone_claims
from bridges.presence.planner import desired_overlay
from bridges.telephony.missed import missed_call_text
from bridges.telephony.phonebook import normalize
from samtek.model import ClaimKind, Person, Show
from samtek.store import open_store
from samtek.store.phones import PhoneStates
from samtek.telephony import DeviceState, DeviceStateUpdate

AT = datetime(2026, 11, 25, 9, 42, 10, tzinfo=UTC)  # 10:42 in Oslo
KARI = Person(id="kari", jid="kari@x.test", name="Kari", municipality="m", phones=("1002",))


def update(state: DeviceState, at: datetime = AT) -> DeviceStateUpdate:
    return DeviceStateUpdate("pbx", "1002", state, at)


def test_device_states_map_to_claims() -> None:
    kinds = {state: [c.kind for c in phone_claims("kari", update(state))] for state in DeviceState}
    assert kinds == {
        DeviceState.RINGING: [ClaimKind.PHONE_RINGING],
        DeviceState.IN_USE: [ClaimKind.ON_PHONE],
        DeviceState.DND: [ClaimKind.PHONE_DND],
        DeviceState.IDLE: [],
        DeviceState.UNAVAILABLE: [],
    }
    (claim,) = phone_claims("kari", update(DeviceState.IN_USE))
    assert claim.show is Show.DND
    assert claim.valid_until - claim.valid_from == PHONE_HORIZON


def test_phone_overlay_is_capped_and_stable_within_the_hour() -> None:
    claims = phone_claims("kari", update(DeviceState.IN_USE))
    grace = timedelta(seconds=2)
    first = desired_overlay(KARI, claims, AT, grace)
    later = desired_overlay(KARI, claims, AT + timedelta(minutes=10), grace)
    assert first is not None and first.status == "På telefonen"
    assert first.until == datetime(2026, 11, 25, 13, 0, 2, tzinfo=UTC)  # hour + 4 h + grace
    assert later == first  # no re-send while planning again within the hour
    extended = desired_overlay(KARI, claims, datetime(2026, 11, 25, 13, 0, tzinfo=UTC), grace)
    assert extended is not None and extended.transition == first.transition
    assert extended.until == datetime(2026, 11, 25, 17, 0, 2, tzinfo=UTC)


def test_missed_call_texts() -> None:
    now = AT + timedelta(minutes=1)
    assert (
        missed_call_text(KARI, "Ola Nordmann", "+47 22 33 44 55", AT, now)
        == "Tapt anrop fra Ola Nordmann (+47 22 33 44 55) kl. 10:42"
    )
    nynorsk = replace(KARI, language="nn")
    assert missed_call_text(nynorsk, None, "1001", AT, now) == "Tapt anrop frå 1001 kl. 10:42"
    english = replace(KARI, language="en", timezone="Europe/London")
    assert (
        missed_call_text(english, None, "anonymous", AT, now)
        == "Missed call from an unknown number at 09:42"
    )
    next_day = AT + timedelta(days=1)
    assert (
        missed_call_text(KARI, "Ola", "1001", AT, next_day)
        == "Tapt anrop fra Ola (1001) onsdag 25. november kl. 10:42"
    )


def test_normalize_numbers() -> None:
    assert normalize("+47 22 33 44 55") == normalize("0047-22334455") == "+4722334455"
    assert normalize("(10) 02") == "1002"


async def test_busy_phones_are_kept_in_the_store(tmp_path: Path) -> None:
    async with open_store(f"sqlite:///{tmp_path}/state.db") as store:
        phones = PhoneStates(store.db)
        await phones.save(update(DeviceState.IN_USE))
        await phones.save(DeviceStateUpdate("pbx", "1001", DeviceState.DND, AT))
        await phones.save(DeviceStateUpdate("pbx", "1001", DeviceState.IDLE, AT))
        assert await phones.load() == [update(DeviceState.IN_USE)]
