"""The ICS corpus through a real Radicale: what a contact sees is the same as from a feed.

Radicale takes each event of the corpus files it accepts as its own resource (a CalDAV
resource holds one UID, RFC 4791 §4.1), byte for byte as the file has it: CLASS values,
DURATION across DST, replies by every address. It refuses the other damage (raw line
breaks, CR CR LF, several VCALENDARs, unreadable dates), which only feeds carry; a fold
inside a UTF-8 character it lets in but garbles itself (Radicale 3 decodes the whole body
as Latin-1 when it is not UTF-8, before unfolding: it serves back mojibake for "ø"), so
that file is not used here. The connector mirrors the calendar; its published events go
through the same presence planner as in the service, checked at the corpus's instants.
"""

from __future__ import annotations

import re
import tomllib
from datetime import datetime, timedelta

import aiohttp
import pytest

from samtek.clock import ShiftedClock
from samtek.model import CalendarRef, Person
from tests.caldav.conftest import SOURCE, make_config, run_connector
from tests.ics.test_corpus_presence import CORPUS, corpus_person, shown, wanted
from tests.servers.radicale import RadicaleServer, simple_event


# The connector's window is anchored to the real clock: twenty years each way holds 2026.
def resources(ics: bytes) -> dict[str, bytes]:
    """One calendar object per VEVENT of `ics`, with the file's VTIMEZONEs, bytes untouched."""
    assert b"\r\n" in ics
    head = ics[: ics.index(b"BEGIN:V", len(b"BEGIN:VCALENDAR"))]
    zones = b"".join(re.findall(rb"BEGIN:VTIMEZONE.*?END:VTIMEZONE\r\n", ics, re.S))
    found = {}
    for block in re.findall(rb"BEGIN:VEVENT.*?END:VEVENT(?:\r\n|$)", ics, re.S):
        uid = re.search(rb"^UID:(.*)$", block.replace(b"\r\n ", b""), re.M)
        assert uid is not None
        body = head + zones + block.rstrip(b"\r\n") + b"\r\nEND:VCALENDAR\r\n"
        found[uid.group(1).strip().decode()] = body
    return found


async def put(radicale: RadicaleServer, user: str, url: str, body: bytes) -> None:
    """PUT the bytes as they are (the server helper sends text)."""
    auth = aiohttp.BasicAuth(user, radicale.users[user])
    async with (
        aiohttp.ClientSession() as session,
        session.put(url, data=body, auth=auth, headers={"Content-Type": "text/calendar"}) as r,
    ):
        assert r.status in (201, 204), await r.text()


@pytest.mark.parametrize("name", ["class_values", "duration_dst", "replies"])
async def test_corpus_through_radicale(radicale: RadicaleServer, name: str) -> None:
    spec = tomllib.loads((CORPUS / "expected" / f"{name}.toml").read_text("utf-8"))
    cal = await radicale.make_calendar("alice")
    ics = (CORPUS / f"{name}.ics").read_bytes()
    for n, body in enumerate(resources(ics).values()):
        await put(radicale, "alice", f"{cal}{name}-{n}.ics", body)
    # A minutely rule from the window's start: refused by SAMTEK, and cheap enough for
    # Radicale, which iterates recurrences from DTSTART when it filters by time range.
    start, end = (datetime.fromisoformat(t) for t in spec["window"])
    first = f"{start:%Y%m%dT%H%M%S}"
    bomb = simple_event("bomb", first, first, extra="RRULE:FREQ=MINUTELY")
    await radicale.put_event("alice", cal, "bomb", bomb)
    person = corpus_person(spec)
    person = Person(**{**_fields(person), "calendars": (CalendarRef(SOURCE, cal),)})
    # The connector runs in the middle of the corpus' own window and reads just that: Radicale
    # expands recurrences (the bomb too) over the whole queried range, at seconds per year.
    half = (end - start) / 2 + timedelta(days=2)
    config = make_config(radicale, window_back=half, window_ahead=half)
    async with run_connector(config, [person], clock=ShiftedClock(start + half)) as run:
        update = await run.next_update(person.id)
        assert shown(person, list(update.events), spec) == wanted(spec)
        counts = run.ctx.health.snapshot().item_counts[person.id]
        assert (counts.published, counts.refused) == (len(update.events), 1)
        assert "event bomb: recurrence refused" in counts.reasons[0]


def _fields(person: Person) -> dict[str, object]:
    return {f: getattr(person, f) for f in Person.__dataclass_fields__}
