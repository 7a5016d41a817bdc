"""Manual status wins until the next transition (also across a SAMTEK restart); private
meetings never reveal their subject on the wire, whatever the person's opt-in."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from samtek.devserver.prosody import ProsodyServer
from tests.e2e.regions import ics_meeting, next_whole_second, write_config, write_ics
from tests.e2e.test_calendar_presence import OWN_STATUS, online_pair, setup_users
from tests.instants import until_texts

OSLO = ZoneInfo("Europe/Oslo")


async def test_manual_status_wins_until_the_next_transition(
    prosody: ProsodyServer, samtek_service, tmp_path: Path
) -> None:
    setup_users(prosody)
    await prosody.start()
    alice, bob = await online_pair(prosody)
    start = next_whole_second(2.5)
    first_end = start + timedelta(seconds=6)
    second = (start + timedelta(seconds=9), start + timedelta(seconds=12))
    feed = tmp_path / "alice.ics"
    write_ics(feed, ics_meeting("m1", start, first_end), ics_meeting("m2", *second))
    config = write_config(tmp_path, prosody, {"alice": feed})
    service = samtek_service(config)
    await service.start()
    alice_jid = prosody.jid("alice")

    assert (await bob.next_from(alice_jid)).show == "dnd"
    alice.set_presence("away", "Lunsj")
    manual = await bob.next_from(alice_jid)
    assert (manual.show, manual.status) == ("away", "Lunsj")

    # A restart of SAMTEK must not bring the dismissed meeting back.
    await service.stop()
    await samtek_service(config).start()
    # The next transition (the second meeting) shows again, and nothing came in between.
    nxt = await bob.next_from(alice_jid, timeout=20)
    assert nxt.show == "dnd", nxt
    assert abs(nxt.at - second[0].timestamp()) <= 0.5
    until = until_texts(second[1], OSLO, "nb", second[0], nxt.at)  # 'i morgen' after midnight
    assert nxt.status in {f"I møte til {u}" for u in until}
    back = await bob.next_from(alice_jid, timeout=10)
    assert (back.show, back.status) == ("away", "Lunsj")  # her own (manual) presence again
    await alice.disconnect()
    await bob.disconnect()


async def test_private_meeting_never_shows_its_subject(
    prosody: ProsodyServer, samtek_service, tmp_path: Path
) -> None:
    setup_users(prosody)
    await prosody.start()
    alice, bob = await online_pair(prosody)
    start = next_whole_second(2.5)
    private_end = start + timedelta(seconds=2)
    public_end = private_end + timedelta(seconds=2)
    feed = tmp_path / "alice.ics"
    write_ics(
        feed,
        ics_meeting("p", start, private_end, "CLASS:PRIVATE", "LOCATION:Legekontoret").replace(
            "SUMMARY:Prosjektmøte", "SUMMARY:Legetime"
        ),
        ics_meeting("q", private_end, public_end).replace(
            "SUMMARY:Prosjektmøte", "SUMMARY:Budsjett"
        ),
    )
    config = write_config(tmp_path, prosody, {"alice": feed}, show_subject=True)
    await samtek_service(config).start()
    alice_jid = prosody.jid("alice")
    seen = [await bob.next_from(alice_jid) for _ in range(3)]
    private, public, own = seen
    assert private.show == "dnd"
    # Back-to-back meetings merge: "until" is the end of the second one (docs/presence.md).
    until = until_texts(public_end, OSLO, "nb", start, private.at, public.at)  # near midnight
    assert private.status in {f"I møte til {u}" for u in until}
    assert public.status in {f"I møte: Budsjett (til {u})" for u in until}
    assert (own.show, own.status) == ("", OWN_STATUS)
    assert not any("Lege" in p.status for p in seen)
    await alice.disconnect()
    await bob.disconnect()
