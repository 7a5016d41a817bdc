"""The ICS corpus through a real Radicale: what a contact sees is the same as from a feed.

Radicale takes each event of the corpus files it accepts as its own resource (a CalDAV
resource holds one UID, RFC 4791 §4.1): CLASS values, DURATION across DST, replies by
every address. (It refuses the byte-level damage of the other files, which only feeds
carry.) The connector mirrors the calendar; its published events go through the same
presence planner as in the service, checked at the instants written in the corpus.
"""

from __future__ import annotations

import re
import tomllib
from datetime import timedelta

import pytest

from samtek.model import CalendarRef, Person
from tests.caldav.conftest import SOURCE, make_config, run_connector
from tests.ics.test_corpus_presence import CORPUS, corpus_person, shown, wanted
from tests.servers.radicale import RadicaleServer, simple_event

# The connector's window is anchored to the real clock: twenty years each way holds 2026.
TWENTY_YEARS = timedelta(days=20 * 365)


def resources(ics: str) -> dict[str, str]:
    """One calendar object per VEVENT of `ics`, with the file's VTIMEZONEs."""
    head = ics[: ics.index("BEGIN:V", len("BEGIN:VCALENDAR"))]
    zones = "".join(re.findall(r"BEGIN:VTIMEZONE.*?END:VTIMEZONE\r\n", ics, re.S))
    found = {}
    assert "\r\n" in ics
    for block in re.findall(r"BEGIN:VEVENT.*?END:VEVENT\r\n", ics, re.S):
        uid = re.search(r"^UID:(.*)$", block.replace("\r\n ", ""), re.M)
        assert uid is not None
        found[uid.group(1).strip()] = f"{head}{zones}{block}END:VCALENDAR\r\n"
    return found


@pytest.mark.parametrize("name", ["class_values", "duration_dst", "replies"])
async def test_corpus_through_radicale(radicale: RadicaleServer, name: str) -> None:
    spec = tomllib.loads((CORPUS / "expected" / f"{name}.toml").read_text("utf-8"))
    cal = await radicale.make_calendar("alice")
    ics = (CORPUS / f"{name}.ics").read_bytes().decode("utf-8")  # keeps CRLF
    for n, (_uid, body) in enumerate(resources(ics).items()):
        await radicale.put_event("alice", cal, f"{name}-{n}", body)
    bomb = simple_event("bomb", "20000101T000000", "20000101T000001", extra="RRULE:FREQ=MINUTELY")
    await radicale.put_event("alice", cal, "bomb", bomb)
    person = corpus_person(spec)
    person = Person(**{**_fields(person), "calendars": (CalendarRef(SOURCE, cal),)})
    config = make_config(radicale, window_back=TWENTY_YEARS, window_ahead=TWENTY_YEARS)
    async with run_connector(config, [person]) as run:
        update = await run.next_update(person.id)
        assert shown(person, list(update.events), spec) == wanted(spec)
        counts = run.ctx.health.snapshot().item_counts[person.id]
        assert (counts.published, counts.refused) == (len(update.events), 1)
        assert "event bomb: recurrence refused" in counts.reasons[0]


def _fields(person: Person) -> dict[str, object]:
    return {f: getattr(person, f) for f in Person.__dataclass_fields__}
