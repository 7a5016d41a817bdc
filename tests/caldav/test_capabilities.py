"""Auth errors, free/busy and meeting creation against a real Radicale."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.caldav import CalDavConnector
from samtek.calendar import CalendarSource, MeetingRequest, MeetingWriter
from samtek.health import HealthState
from samtek.model import BusyStatus, TimeWindow
from samtek.plugin import AuthFailed
from tests.caldav.conftest import SERVICE_PASSWORD, make_config, person, run_connector
from tests.servers.radicale import RadicaleServer, simple_event


def stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y%m%dT%H%M%S")


def tomorrow(hour: int) -> datetime:
    day = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    return day.replace(hour=hour)


async def test_wrong_password_is_a_clear_auth_error(radicale: RadicaleServer) -> None:
    cal = await radicale.make_calendar("alice")
    config = make_config(radicale, password="not-the-password")
    async with run_connector(config, [person("alice", cal)]) as run:
        with pytest.raises(AuthFailed) as failed:
            await run.task
    message = str(failed.value)
    assert "401" in message and "credentials" in message
    assert "/alice/calendar/" in message
    assert "not-the-password" not in message and SERVICE_PASSWORD not in message
    health = run.ctx.health.snapshot()
    assert health.state is HealthState.DEGRADED
    [error] = health.item_errors.values()
    assert error.startswith("PROPFIND http://127.0.0.1:") and "401 Unauthorized" in error


async def test_one_missing_calendar_degrades_but_others_are_served(
    radicale: RadicaleServer,
) -> None:
    cal = await radicale.make_calendar("alice")
    missing = radicale.calendar_url("bob", "nope")
    people = [person("alice", cal), person("bob", missing)]
    async with run_connector(make_config(radicale), people) as run:
        update = await run.next_update("alice")
        assert update.events == ()
        health = run.ctx.health.snapshot()
        assert health.state is HealthState.DEGRADED
        assert any("404" in e and "/bob/nope/" in e for e in health.item_errors.values())
        assert health.last_success is not None


async def test_free_busy_from_free_busy_query(radicale: RadicaleServer) -> None:
    alice_cal = await radicale.make_calendar("alice")
    bob_cal = await radicale.make_calendar("bob")
    start = tomorrow(9)
    await radicale.put_event(
        "alice",
        alice_cal,
        "busy",
        simple_event("busy", stamp(start), stamp(start + timedelta(hours=1))),
    )
    await radicale.put_event(
        "alice",
        alice_cal,
        "maybe",
        simple_event(
            "maybe",
            stamp(start + timedelta(hours=2)),
            stamp(start + timedelta(hours=3)),
            extra="STATUS:TENTATIVE",
        ),
    )
    await radicale.put_event(
        "alice",
        alice_cal,
        "free",
        simple_event(
            "free",
            stamp(start + timedelta(hours=4)),
            stamp(start + timedelta(hours=5)),
            extra="TRANSP:TRANSPARENT",
        ),
    )
    alice, bob = person("alice", alice_cal), person("bob", bob_cal)
    async with run_connector(make_config(radicale), [alice, bob]) as run:
        await run.next_update("alice")
        assert isinstance(run.connector, CalendarSource)
        window = TimeWindow(start - timedelta(hours=1), start + timedelta(hours=8))
        result = await run.connector.free_busy([alice, bob], window)
    assert result["bob"] == []
    spans = [(b.start, b.end, b.busy) for b in result["alice"]]
    assert (start, start + timedelta(hours=1), BusyStatus.BUSY) in spans
    assert (start + timedelta(hours=2), start + timedelta(hours=3), BusyStatus.TENTATIVE) in spans
    assert all(b.start != start + timedelta(hours=4) for b in result["alice"])
    # it came from the server's free-busy-query, not from our own events
    assert any(
        "REPORT response status for '/alice/calendar/'" in line and "200 OK" in line
        for line in radicale.log_lines()
    )


async def test_events_outside_the_mirrored_window_are_queried(radicale: RadicaleServer) -> None:
    cal = await radicale.make_calendar("alice")
    far = tomorrow(9) + timedelta(days=60)
    await radicale.put_event(
        "alice",
        cal,
        "far",
        simple_event("far", stamp(far), stamp(far + timedelta(hours=1)), "Far away"),
    )
    alice = person("alice", cal)
    async with run_connector(make_config(radicale), [alice]) as run:
        assert (await run.next_update("alice")).events == ()
        events = await run.connector.events(
            alice, TimeWindow(far - timedelta(days=1), far + timedelta(days=1))
        )
    assert [(e.uid, e.start) for e in events] == [("far", far)]


async def test_create_meeting_puts_vevent_with_organizer_and_attendees(
    radicale: RadicaleServer,
) -> None:
    alice_cal = await radicale.make_calendar("alice")
    bob_cal = await radicale.make_calendar("bob")
    alice, bob = person("alice", alice_cal), person("bob", bob_cal)
    start = tomorrow(13)
    async with run_connector(make_config(radicale), [alice, bob]) as run:
        await run.next_update("alice")
        assert isinstance(run.connector, MeetingWriter)
        uid = await run.connector.create_meeting(
            MeetingRequest(
                organiser=alice,
                attendees=(bob,),
                subject="Prosjektmøte, fase 2",
                start=start,
                end=start + timedelta(hours=1),
                location="Rom 3; 2. etg",
            )
        )
        update = await run.next_update("alice", lambda u: any(e.uid == uid for e in u.events))
        [event] = [e for e in update.events if e.uid == uid]
        assert (event.start, event.end, event.subject) == (
            start,
            start + timedelta(hours=1),
            "Prosjektmøte, fase 2",
        )
        stored = await radicale.get("alice", f"{alice_cal}{uid}.ics")
        with pytest.raises(Exception, match="412"):  # If-None-Match: a uid is never overwritten
            await radicale_put_again(run.connector, alice_cal, uid)
    unfolded = stored.replace("\r\n ", "")
    assert "ORGANIZER;CN=Alice:mailto:alice@example.test" in unfolded
    assert "mailto:bob@example.test" in unfolded and "PARTSTAT=NEEDS-ACTION" in unfolded
    assert "LOCATION:Rom 3\\; 2. etg" in unfolded


async def radicale_put_again(connector: CalDavConnector, calendar: str, uid: str) -> None:
    client = connector._require_client()
    await client.request(
        "PUT",
        f"{calendar}{uid}.ics",
        b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
        {"If-None-Match": "*", "Content-Type": "text/calendar"},
        ok=(201,),
    )


async def test_an_address_on_another_origin_never_gets_the_credentials(
    radicale: RadicaleServer,
) -> None:
    cal = await radicale.make_calendar("alice")
    people = [person("alice", cal), person("mallory", "http://127.0.0.2:9/steal/")]
    async with run_connector(make_config(radicale), people) as run:
        await run.next_update("alice")
        errors = run.ctx.health.snapshot().item_errors
    [error] = [v for k, v in errors.items() if "127.0.0.2" in k]
    assert "not on the configured server" in error and "refusing to send credentials" in error
