"""Pure logic: commands, days and durations, people lookup, catalogues."""

from __future__ import annotations

import contextlib
import string
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridges.assistant.intent import understand
from bridges.assistant.normalize import fold, tokens
from bridges.assistant.parsing import Command, parse
from bridges.assistant.people import Ambiguous, Found, NotFound, lookup, lookup_many
from bridges.assistant.texts import LANGUAGES, catalogue
from bridges.assistant.when import WhenError, parse_when
from samtek.model import Person

WED = date(2026, 11, 25)  # a Wednesday


@pytest.mark.parametrize(
    ("text", "command", "words"),
    [
        ("hjelp", Command.HELP, ()),
        ("  HELP?  ", Command.HELP, ()),
        ("?", Command.HELP, ()),
        ("Status  Kari", Command.STATUS, ("kari",)),
        ("hvor er kari", Command.STATUS, ("kari",)),
        ("kvar er Kari", Command.STATUS, ("kari",)),
        ("where is kari?", Command.STATUS, ("kari",)),
        ("LEDIG kari i morgen", Command.FREE, ("kari", "i", "morgen")),
        ("free kari tomorrow", Command.FREE, ("kari", "tomorrow")),
        ("finn tid kari, per", Command.FIND_TIME, ("kari", ",", "per")),
        ("Find Time kari", Command.FIND_TIME, ("kari",)),
        ("møte kari i morgen kl 10", Command.MEETING, ("kari", "i", "morgen", "kl", "10")),
        ("MØTER", Command.MEETINGS, ()),
        ("meetings", Command.MEETINGS, ()),
        ("ring Kåre", Command.CALL, ("kare",)),
        ("call 1001", Command.CALL, ("1001",)),
        ("Hei!", Command.HELP, ()),
        ("hva er klokka", None, ("hva", "er", "klokka")),
    ],
)
def test_commands_in_three_languages(
    text: str, command: Command | None, words: tuple[str, ...]
) -> None:
    parsed = parse(text)
    assert parsed.command == command
    assert parsed.words == words


def test_meeting_subject_keeps_its_spelling() -> None:
    parsed = parse("møte Kari kl 10:30 1 t: Budsjett Ørsta 2027")
    assert parsed.subject == "Budsjett Ørsta 2027"
    assert parsed.words == ("kari", "kl", "10:30", "1", "t")
    assert parse('meeting kari at 10 "Plan B"').subject == "Plan B"


def test_fold_ignores_case_accents_and_spaces() -> None:
    assert fold("  MÅNDAG\t ") == "mandag"
    assert fold("Møte  Ærlig") == "mote aerlig"
    assert fold("Josée") == "josee"


@pytest.mark.parametrize(
    ("words", "day"),
    [
        ("i dag", WED),
        ("idag", WED),
        ("today", WED),
        ("i morgen", WED + timedelta(1)),
        ("i morgon", WED + timedelta(1)),
        ("tomorrow", WED + timedelta(1)),
        ("i overmorgen", WED + timedelta(2)),
        ("day after tomorrow", WED + timedelta(2)),
        ("onsdag", WED),
        ("mandag", date(2026, 11, 30)),
        ("måndag", date(2026, 11, 30)),
        ("monday", date(2026, 11, 30)),
        ("tysdag", date(2026, 12, 1)),
        ("laurdag", date(2026, 11, 28)),
        ("2.12", date(2026, 12, 2)),
        ("2.12.2026", date(2026, 12, 2)),
        ("2026-12-02", date(2026, 12, 2)),
        ("2/1", date(2027, 1, 2)),  # already past this year: next year
        ("1.1.27", date(2027, 1, 1)),
    ],
)
def test_days(words: str, day: date) -> None:
    when = parse_when(fold(words).split(), WED)
    assert when.day == day
    assert when.rest == ()


@pytest.mark.parametrize(
    "bad", ["31.2", "2026-13-01", "30.02.2027", "kl 25", "24:00", "2 min", "20 timer"]
)
def test_bad_dates_name_the_token(bad: str) -> None:
    with pytest.raises(WhenError) as err:
        parse_when(fold(bad).split(), WED)
    assert err.value.token


@pytest.mark.parametrize(
    ("words", "duration"),
    [
        ("30 min", 30),
        ("30min", 30),
        ("1t", 60),
        ("1,5 t", 90),
        ("2 timer", 120),
        ("en time", 60),
        ("halvtime", 30),
        ("90 minutes", 90),
        ("1 hour", 60),
        ("2h", 120),
    ],
)
def test_durations(words: str, duration: int) -> None:
    assert parse_when(fold(words).split(), WED).duration == timedelta(minutes=duration)


def test_everything_together_leaves_the_people() -> None:
    when = parse_when(fold("kari , per i morgen kl 9.30 45 min innen fredag").split(), WED)
    assert when.day == WED + timedelta(1)
    assert when.at == time(9, 30)
    assert when.duration == timedelta(minutes=45)
    assert when.until == date(2026, 11, 27)
    assert when.rest == ("kari", ",", "per")


def _p(pid: str, name: str, muni: str = "kongsberg", phones: tuple[str, ...] = ()) -> Person:
    return Person(
        id=pid,
        jid=f"{pid}@region.test",
        name=name,
        municipality=muni,
        email=f"{pid}@kommune.no",
        phones=phones,
    )


PEOPLE = [
    _p("kari", "Kari Nordmann", phones=("1001",)),
    _p("karin", "Kari Nordby", "notodden"),
    _p("per", "Per Ås", phones=("+47 1002",)),
    _p("ola", "Ola Normann"),
]


def test_lookup_by_name_jid_email_extension() -> None:
    assert lookup("kari nordmann", PEOPLE) == Found(PEOPLE[0])
    assert lookup("KARI NORDM", PEOPLE) == Found(PEOPLE[0])
    assert lookup("per as", PEOPLE) == Found(PEOPLE[2])
    assert lookup("Per Ås", PEOPLE) == Found(PEOPLE[2])
    assert lookup("karin@region.test", PEOPLE) == Found(PEOPLE[1])
    assert lookup("ola@kommune.no", PEOPLE) == Found(PEOPLE[3])
    assert lookup("1001", PEOPLE) == Found(PEOPLE[0])
    assert lookup("471002", PEOPLE) == Found(PEOPLE[2])


def test_lookup_ambiguous_and_unknown() -> None:
    result = lookup("kari", PEOPLE)
    assert isinstance(result, Ambiguous)
    assert {p.id for p in result.candidates} == {"kari", "karin"}
    assert lookup("nobody", PEOPLE) == NotFound("nobody")


def test_lookup_many_by_separators_and_by_words() -> None:
    found = lookup_many(tokens("kari nordmann, per og ola"), PEOPLE)
    assert [r.person.id for r in found if isinstance(r, Found)] == ["kari", "per", "ola"]
    found = lookup_many(["per", "ola"], PEOPLE)
    assert [r.person.id for r in found if isinstance(r, Found)] == ["per", "ola"]
    assert isinstance(lookup_many(["kari"], PEOPLE)[0], Ambiguous)


def test_catalogues_have_the_same_keys_and_placeholders() -> None:
    keys = {lang: set(catalogue(lang)) for lang in LANGUAGES}
    assert keys["nb"] == keys["nn"] == keys["en"]
    for key in keys["nb"]:
        fields = {
            lang: {f for _, f, _, _ in string.Formatter().parse(catalogue(lang)[key]) if f}
            for lang in LANGUAGES
        }
        assert fields["nb"] == fields["nn"] == fields["en"], key


@given(st.text(max_size=200))
def test_understand_never_crashes(text: str) -> None:
    now = datetime(2026, 11, 25, 9, 0, tzinfo=ZoneInfo("Europe/Oslo"))
    understand(text, now)


@given(
    st.lists(
        st.sampled_from(
            [
                "kl",
                "10",
                "-",
                "11",
                "om",
                "en",
                "time",
                "i",
                "morgen",
                "neste",
                "uke",
                "49",
                "pa",
                "fredag",
                "1.",
                "des",
                "2pm",
                "3-4pm",
                "til",
                "og",
                "ola",
                "er",
                "ledig",
                "?",
                "in",
                "a",
                "week",
                "for",
                "30",
                "min",
                "the",
                "3rd",
                "of",
                "december",
            ]
        ),
        max_size=30,
    )
)
def test_understand_never_crashes_on_time_words(words: list[str]) -> None:
    now = datetime(2026, 11, 25, 9, 0, tzinfo=ZoneInfo("Europe/Oslo"))
    understand(" ".join(words), now)


@given(st.text(max_size=80))
def test_parse_never_crashes(text: str) -> None:
    parse(text)
    with contextlib.suppress(WhenError):
        parse_when(fold(text).split(), WED)
