"""Writes SAMTEK configs and ICS files for end-to-end tests against a real Prosody."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from samtek.clock import SYSTEM_CLOCK, Clock
from samtek.devserver.prosody import ProsodyServer


def ics_meeting(uid: str, start: datetime, end: datetime, *extra: str) -> str:
    def stamp(t: datetime) -> str:
        return t.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")

    lines = [
        "BEGIN:VEVENT",
        f"UID:{uid}",
        f"DTSTAMP:{stamp(start)}",
        f"DTSTART:{stamp(start)}",
        f"DTEND:{stamp(end)}",
        "SUMMARY:Prosjektmøte",
        *extra,
        "END:VEVENT",
    ]
    return "\r\n".join(lines)


def write_ics(path: Path, *events: str) -> None:
    body = "\r\n".join(events)
    tmp = path.with_suffix(".tmp")
    head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//samtek tests//EN\r\n"
    tmp.write_text(f"{head}{body}\r\nEND:VCALENDAR\r\n")
    tmp.replace(path)  # atomic, as a calendar export would be written


def next_whole_second(after: float, clock: Clock = SYSTEM_CLOCK) -> datetime:
    """ICS times have whole seconds: the first whole second at least `after` s from now."""
    t = clock.now() + timedelta(seconds=after)
    return t.replace(microsecond=0) + timedelta(seconds=1)


def write_config(
    directory: Path,
    prosody: ProsodyServer,
    feeds: dict[str, Path | str],
    extra_people: str = "",
    show_subject: bool = False,
) -> Path:
    secret = directory / "component.secret"
    secret.write_text(prosody.component_secret)
    people = "".join(
        f"""
[[people]]
id = "{name}"
jid = "{prosody.jid(name)}"
name = "{name.title()}"
municipality = "kongsberg"
show_subject = {str(show_subject).lower()}
calendars = [{{ address = "{feed}" }}]
"""
        for name, feed in feeds.items()
    )
    path = directory / "samtek.toml"
    path.write_text(
        f"""
[xmpp]
domain = "{prosody.domain}"
component_jid = "{prosody.component_jid}"
component_secret = "file:{secret}"
port = {prosody.component_port}

[store]
url = "sqlite:///{directory}/state.db"

[http]
port = 0

[[municipalities]]
id = "kongsberg"
name = "Kongsberg kommune"
calendar = "feeds"

[connectors.feeds]
type = "ical"
refresh_interval = 1

{people}
{extra_people}
"""
    )
    return path
