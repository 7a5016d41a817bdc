"""A small region for the assistant tests: nine people, three calendar sources (iCal files).

The find-time day is the next working day after today (Europe/Oslo). Busy on that day
(Oslo time): Kari Nordmann 08-10 (source cal_a), Kari Nordby 10-11 and 15:30-17 (cal_b),
Emma Hansen 11-12 and 13-14 (cal_c); Ola Normann and Lars Holm are free. Right now Per Ås
is in a private meeting and Emma in a non-private one (Emma shows subjects; Per does not).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from samtek.clock import SYSTEM_CLOCK, Clock
from samtek.devserver.prosody import ProsodyServer
from tests.e2e.regions import ics_meeting, write_ics

OSLO = ZoneInfo("Europe/Oslo")
LONDON = ZoneInfo("Europe/London")
ASKERS = ("anna", "nils", "john", "stranger")
OTHERS = ("kari", "karin", "emma", "per", "ola", "lars")


@dataclass(frozen=True)
class Region:
    config: Path
    day: date  # the find-time day
    now_meeting_end: datetime  # Per's and Emma's current meetings end then


def next_working_day(today: date) -> date:
    day = today + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def _at(day: date, hour: float) -> datetime:
    return datetime.combine(day, time(0), OSLO) + timedelta(hours=hour)


def write_region(
    directory: Path,
    prosody: ProsodyServer,
    rate_burst: int = 5,
    kari_extra: str = "",
    extra_config: str = "",
    calendars: dict[str, tuple[str, str]] | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> Region:
    """`calendars` replaces people's (source, address), e.g. a CalDAV calendar for anna."""
    now = clock.now().replace(microsecond=0)
    day = next_working_day(now.astimezone(OSLO).date())
    end = now + timedelta(hours=1)
    feeds = {
        "anna": [],
        "nils": [],
        "john": [],
        "kari": [ics_meeting("k1", _at(day, 8), _at(day, 10))],
        "karin": [
            ics_meeting("n1", _at(day, 10), _at(day, 11)),
            ics_meeting("n2", _at(day, 15.5), _at(day, 17)),
        ],
        "emma": [
            ics_meeting("e0", now - timedelta(minutes=30), end).replace(
                "SUMMARY:Prosjektmøte", "SUMMARY:Budget review"
            ),
            ics_meeting("e1", _at(day, 11), _at(day, 12)),
            ics_meeting("e2", _at(day, 13), _at(day, 14)),
        ],
        "ola": [],
        "lars": [],
        "per": [
            ics_meeting("p0", now - timedelta(minutes=30), end, "CLASS:PRIVATE").replace(
                "SUMMARY:Prosjektmøte", "SUMMARY:Lønnsforhandling"
            )
        ],
    }
    for name, events in feeds.items():
        write_ics(directory / f"{name}.ics", *events)
    secret = directory / "component.secret"
    secret.write_text(prosody.component_secret)

    def person(pid: str, name: str, muni: str, source: str, extra: str = "") -> str:
        source, address = (calendars or {}).get(pid, (source, str(directory / f"{pid}.ics")))
        return f"""
[[people]]
id = "{pid}"
jid = "{prosody.jid(pid)}"
name = "{name}"
municipality = "{muni}"
email = "{pid}@kommune.test"
calendars = [{{ source = "{source}", address = "{address}" }}]
{extra}
"""

    people = "".join(
        [
            person("anna", "Anna Berg", "kongsberg", "cal_a", 'phones = ["1001"]'),
            person("nils", "Nils Vik", "notodden", "cal_b"),
            person("john", "John Smith", "kongsberg", "cal_c", _english()),
            person(
                "kari", "Kari Nordmann", "kongsberg", "cal_a", f'phones = ["1002"]\n{kari_extra}'
            ),
            person("karin", "Kari Nordby", "notodden", "cal_b"),
            person("emma", "Emma Hansen", "kongsberg", "cal_c", "show_subject = true"),
            person("per", "Per Ås", "kongsberg", "cal_a"),
            person("ola", "Ola Normann", "kongsberg", "cal_b"),
            person("lars", "Lars Holm", "notodden", "cal_c"),
        ]
    )
    connectors = "".join(
        f'\n[connectors.{name}]\ntype = "ical"\nrefresh_interval = 60\n'
        for name in ("cal_a", "cal_b", "cal_c")
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

[assistant]
rate_burst = {rate_burst}

[[municipalities]]
id = "kongsberg"
name = "Kongsberg"
language = "nb"

[[municipalities]]
id = "notodden"
name = "Notodden"
language = "nn"
{connectors}
{extra_config}
{people}
"""
    )
    return Region(path, day, end)


def _english() -> str:
    return 'language = "en"\ntimezone = "Europe/London"'
