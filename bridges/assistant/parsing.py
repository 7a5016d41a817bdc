"""Which command a chat message is, in any of the three languages, and its arguments.

The longest matching command phrase wins ("finn tid" before "finn", "møter" before "møte").
A meeting subject is taken from the original text (quotes, or after ': ' or ' - ') so its
case and letters survive; everything else is matched in folded form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from bridges.assistant.normalize import spellings, tokens


class Command(StrEnum):
    HELP = "help"
    STATUS = "status"
    FREE = "free"
    FIND_TIME = "find_time"
    MEETING = "meeting"
    MEETINGS = "meetings"
    CALL = "call"


# Folded phrases (see normalize.fold): "møte" is "mote", "måndag" is "mandag".
PHRASES: dict[tuple[str, ...], Command] = {
    ("hjelp",): Command.HELP,
    ("help",): Command.HELP,
    ("?",): Command.HELP,
    ("kommandoer",): Command.HELP,
    ("kommandoar",): Command.HELP,
    ("commands",): Command.HELP,
    ("hei",): Command.HELP,  # a greeting gets the list of what the assistant can do
    ("hallo",): Command.HELP,
    ("hello",): Command.HELP,
    ("hi",): Command.HELP,
    ("status",): Command.STATUS,
    ("hvor", "er"): Command.STATUS,
    ("kvar", "er"): Command.STATUS,
    ("where", "is"): Command.STATUS,
    ("ledig",): Command.FREE,
    ("ledige", "tider"): Command.FREE,
    ("free",): Command.FREE,
    ("opptatt",): Command.FREE,
    ("oppteken",): Command.FREE,
    ("busy",): Command.FREE,
    ("free/busy",): Command.FREE,
    ("finn", "tid"): Command.FIND_TIME,
    ("finn", "ledig", "tid"): Command.FIND_TIME,
    ("finn", "motetid"): Command.FIND_TIME,
    ("find", "time"): Command.FIND_TIME,
    ("find", "a", "time"): Command.FIND_TIME,
    ("mote",): Command.MEETING,
    ("book",): Command.MEETING,
    ("book", "mote"): Command.MEETING,
    ("meeting",): Command.MEETING,
    ("book", "meeting"): Command.MEETING,
    ("moter",): Command.MEETINGS,
    ("neste", "moter"): Command.MEETINGS,
    ("neste", "mote"): Command.MEETINGS,
    ("meetings",): Command.MEETINGS,
    ("next", "meetings"): Command.MEETINGS,
    ("ring",): Command.CALL,
    ("ring", "til"): Command.CALL,
    ("call",): Command.CALL,
    ("phone",): Command.CALL,
}
_LONGEST = max(len(p) for p in PHRASES)
_SUBJECT = re.compile(r'["“«](?P<q>[^"”»]+)["”»]|(?::|\s[-–—])\s+(?P<t>.+)$', re.DOTALL)


@dataclass(frozen=True, slots=True)
class Parsed:
    command: Command | None
    words: tuple[str, ...]  # folded argument words
    subject: str | None = None  # original spelling
    spelling: dict[str, str] = field(default_factory=dict)  # folded word -> as written

    def as_written(self, folded: str) -> str:
        return " ".join(self.spelling.get(word, word) for word in folded.split())


def split_subject(text: str) -> tuple[str, str | None]:
    """('møte Kari kl 10', 'Budsjett 2027') from 'møte Kari kl 10: Budsjett 2027'."""
    match = _SUBJECT.search(text)
    if match is None:
        return text, None
    subject = (match["q"] or match["t"] or "").strip()
    return text[: match.start()] + " " + text[match.end() :], subject or None


def parse(text: str) -> Parsed:
    head, subject = split_subject(text.strip())
    words = tokens(head)
    while len(words) > 1 and words[-1] in {"?", "!", "."}:
        words.pop()
    if words and len(words[-1]) > 1:
        words[-1] = words[-1].rstrip("?!")
    for length in range(min(_LONGEST, len(words)), 0, -1):
        command = PHRASES.get(tuple(words[:length]))
        if command is not None:
            rest = tuple(w for w in words[length:] if w)
            return Parsed(command, rest, subject, spellings(head))
    return Parsed(None, tuple(words), subject, spellings(head))
