"""The filter reads only the lines repair noted for it; it must decide exactly as a reading of
every line of the block would, also on damaged feeds (raw line breaks, lost ENDs, alarms)."""

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from samtek.calendar.filter import filter_sections, outside
from samtek.calendar.read import read_lines
from samtek.calendar.repair import repair
from samtek.calendar.report import CpuBudget
from samtek.model import TimeWindow

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
WINDOW = TimeWindow(NOW - timedelta(hours=24), NOW + timedelta(days=14))
_FAR, _NEAR = "20260301T100000Z", "20261125T100000Z"
_LINES = (
    f"DTSTART:{_FAR}",
    f"DTSTART:{_NEAR}",
    f"DTEND:{_FAR}",
    f"dtend;tzid=Europe/Oslo:{_NEAR[:-1]}",
    "RRULE:FREQ=WEEKLY;COUNT=3",
    "RRULE:FREQ=DAILY",
    f"RECURRENCE-ID:{_NEAR}",
    f"RDATE:{_NEAR}",
    "DURATION:PT1H",
    "SUMMARY:x",
    "X-SAMTEK-INTERNAL-X:y",
    "a raw line break",
    "BEGIN:VALARM",
    f"DTSTART:{_NEAR}",
    "END:VALARM",
    "END:VEVENT",
    "BEGIN:VEVENT",
    "UID:a",
    "UID:b",
)

blocks = st.lists(st.lists(st.sampled_from(_LINES), max_size=8), max_size=6)


@settings(max_examples=400, deadline=None)
@given(blocks)
def test_the_noted_lines_decide_as_all_lines_do(events: list[list[str]]) -> None:
    text = ["BEGIN:VCALENDAR", "VERSION:2.0"]
    for n, lines in enumerate(events):
        text += ["BEGIN:VEVENT", f"UID:e{n % 3}", *lines, "END:VEVENT"]
    data = ("\r\n".join([*text, "END:VCALENDAR", ""])).encode()
    sections = repair(read_lines(data, CpuBudget(None)), [], CpuBudget(None))
    every = [b for s in sections for b in s.blocks]
    overridden = {
        b.uid
        for b in every
        if b.name == "VEVENT" and any(line[:13].upper() == "RECURRENCE-ID" for line in b.lines)
    }
    expected = [
        b
        for b in every
        if b.name != "VEVENT" or not outside(b.lines, WINDOW, b.uid not in overridden)
    ]
    filter_sections(sections, WINDOW)
    assert [b for s in sections for b in s.blocks] == expected
