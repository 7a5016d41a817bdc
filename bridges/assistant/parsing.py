"""Which command a chat message is, in any of the three languages, and its arguments.

The longest matching command phrase wins ("finn tid" before "finn", "møter" before "møte").
Without one, the message may be a question of a known shape ("er ola ledig i morgen?",
"når kan jeg møte kari", "is ola free at 10?"); greetings and wrapping words ("kan du",
"please") around either are dropped. A meeting subject is taken from the original text
(quotes, after ': ' or ' - ', or after "om"/"about") so its case and letters survive;
everything else is matched in folded form. A message that is none of these may be a typo
of one: `suggestion` is the corrected message. Deterministic, and linear in the message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from bridges.assistant.normalize import spellings, tokens
from bridges.assistant.when import starts_relative


class Command(StrEnum):
    HELP = "help"
    STATUS = "status"
    FREE = "free"
    FIND_TIME = "find_time"
    MEETING = "meeting"
    MEETINGS = "meetings"
    CALL = "call"
    ROOM_REQUEST = "room_request"


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
    ("opprett", "prosjektrom"): Command.ROOM_REQUEST,
    ("create", "project", "room"): Command.ROOM_REQUEST,
    ("ring", "til"): Command.CALL,
    ("call",): Command.CALL,
    ("phone",): Command.CALL,
    # Longer ways of writing the same (the longest phrase wins).
    ("hjelp", "meg"): Command.HELP,
    ("hva", "kan", "du"): Command.HELP,
    ("kva", "kan", "du"): Command.HELP,
    ("what", "can", "you", "do"): Command.HELP,
    ("status", "pa"): Command.STATUS,
    ("status", "for"): Command.STATUS,
    ("status", "til"): Command.STATUS,
    ("status", "of"): Command.STATUS,
    ("vis", "status"): Command.STATUS,
    ("show", "status"): Command.STATUS,
    ("sjekk", "status"): Command.STATUS,
    ("check", "status"): Command.STATUS,
    ("hva", "gjor"): Command.STATUS,
    ("kva", "gjer"): Command.STATUS,
    ("hvor", "er", "det", "blitt", "av"): Command.STATUS,
    ("finne", "tid"): Command.FIND_TIME,
    ("finn", "en", "tid"): Command.FIND_TIME,
    ("finn", "ei", "tid"): Command.FIND_TIME,
    ("finn", "ein", "tid"): Command.FIND_TIME,
    ("finne", "en", "tid"): Command.FIND_TIME,
    ("finne", "ei", "tid"): Command.FIND_TIME,
    ("finn", "tidspunkt"): Command.FIND_TIME,
    ("finn", "et", "tidspunkt"): Command.FIND_TIME,
    ("finn", "eit", "tidspunkt"): Command.FIND_TIME,
    ("finn", "felles", "tid"): Command.FIND_TIME,
    ("find", "a", "slot"): Command.FIND_TIME,
    ("find", "slot"): Command.FIND_TIME,
    ("find", "a", "meeting", "time"): Command.FIND_TIME,
    ("find", "time", "for"): Command.FIND_TIME,
    ("book", "et", "mote"): Command.MEETING,
    ("book", "eit", "mote"): Command.MEETING,
    ("booke", "mote"): Command.MEETING,
    ("booke", "et", "mote"): Command.MEETING,
    ("booke", "eit", "mote"): Command.MEETING,
    ("book", "a", "meeting"): Command.MEETING,
    ("sett", "opp", "mote"): Command.MEETING,
    ("sett", "opp", "et", "mote"): Command.MEETING,
    ("sett", "opp", "eit", "mote"): Command.MEETING,
    ("lag", "et", "mote"): Command.MEETING,
    ("lag", "eit", "mote"): Command.MEETING,
    ("nytt", "mote"): Command.MEETING,
    ("schedule", "a", "meeting"): Command.MEETING,
    ("schedule", "meeting"): Command.MEETING,
    ("set", "up", "a", "meeting"): Command.MEETING,
    ("new", "meeting"): Command.MEETING,
    ("ring", "opp"): Command.CALL,
    ("ringe", "opp"): Command.CALL,
    ("ringe", "opp", "til"): Command.CALL,
    ("finne", "et", "tidspunkt"): Command.FIND_TIME,
    ("finne", "eit", "tidspunkt"): Command.FIND_TIME,
    ("finne", "tidspunkt"): Command.FIND_TIME,
    ("finn", "motetidspunkt"): Command.FIND_TIME,
    ("finn", "et", "motetidspunkt"): Command.FIND_TIME,
    ("finne", "et", "motetidspunkt"): Command.FIND_TIME,
    ("finne", "ledig", "tid"): Command.FIND_TIME,
    ("ha", "et", "mote"): Command.MEETING,
    ("ha", "eit", "mote"): Command.MEETING,
    ("ha", "mote"): Command.MEETING,
    ("lag", "mote"): Command.MEETING,
    ("lage", "et", "mote"): Command.MEETING,
    ("avtal", "mote"): Command.MEETING,
    ("avtale", "et", "mote"): Command.MEETING,
    ("kall", "inn", "til", "mote"): Command.MEETING,
    ("have", "a", "meeting"): Command.MEETING,
    ("book", "mote", "med"): Command.MEETING,
    ("set", "up", "meeting"): Command.MEETING,
    ("opprett", "et", "prosjektrom"): Command.ROOM_REQUEST,
    ("opprett", "eit", "prosjektrom"): Command.ROOM_REQUEST,
    ("opprette", "prosjektrom"): Command.ROOM_REQUEST,
    ("lag", "prosjektrom"): Command.ROOM_REQUEST,
    ("lag", "et", "prosjektrom"): Command.ROOM_REQUEST,
    ("lag", "eit", "prosjektrom"): Command.ROOM_REQUEST,
    ("lage", "prosjektrom"): Command.ROOM_REQUEST,
    ("lage", "et", "prosjektrom"): Command.ROOM_REQUEST,
    ("lage", "eit", "prosjektrom"): Command.ROOM_REQUEST,
    ("nytt", "prosjektrom"): Command.ROOM_REQUEST,
    ("create", "a", "project", "room"): Command.ROOM_REQUEST,
    ("new", "project", "room"): Command.ROOM_REQUEST,
    ("request", "a", "project", "room"): Command.ROOM_REQUEST,
    ("arrange", "a", "meeting"): Command.MEETING,
    ("call", "to"): Command.CALL,
    ("schedule",): Command.MEETING,
    ("setja", "opp", "eit", "mote"): Command.MEETING,
    ("setje", "opp", "eit", "mote"): Command.MEETING,
    ("sette", "opp", "et", "mote"): Command.MEETING,
    ("setja", "opp", "mote"): Command.MEETING,
    ("sette", "opp", "mote"): Command.MEETING,
    ("kor", "er"): Command.STATUS,
    ("any", "free", "time", "for"): Command.FREE,
    ("any", "free", "time"): Command.FREE,
    ("ringja",): Command.CALL,
    ("ringje",): Command.CALL,
    ("ringja", "til"): Command.CALL,
    ("ringje", "til"): Command.CALL,
    ("et", "mote"): Command.MEETING,
    ("eit", "mote"): Command.MEETING,
    ("a", "meeting"): Command.MEETING,
    ("finn", "ein", "time"): Command.FIND_TIME,
    ("finn", "en", "time"): Command.FIND_TIME,
    ("finn", "ledig", "tidspunkt"): Command.FIND_TIME,
    ("finn", "et", "ledig", "tidspunkt"): Command.FIND_TIME,
    ("find", "a", "free", "slot"): Command.FIND_TIME,
    ("find", "free", "slot"): Command.FIND_TIME,
    ("find", "a", "free", "time"): Command.FIND_TIME,
    ("find", "free", "time"): Command.FIND_TIME,
    ("find", "a", "meeting", "slot"): Command.FIND_TIME,
    ("ringe",): Command.CALL,
    ("ringe", "til"): Command.CALL,
    ("call", "up"): Command.CALL,
}
_LONGEST = max(len(p) for p in PHRASES)
# A subject in quotes, after ': ', or after ' - ' unless a number follows ("kl 10 - 11").
_SUBJECT = re.compile(
    r'["“«](?P<q>[^"”»]+)["”»]|:\s+(?P<t>.+)$|\s[-–—]\s+(?P<d>(?!\d).+)$', re.DOTALL
)


# Words around a command that carry no meaning for it.
_GREETINGS = {"hei", "hallo", "hello", "hi", "hey", "god", "morn", "heisann", "hoi"}
# Leading phrases that only wrap a request ("kan du sjekke om ola er ledig"); longest first.
_PREFIXES = sorted(
    (
        tuple(p.split())
        for p in (
            "kan du",
            "kunne du",
            "vil du",
            "kan eg",
            "kan jeg",
            "kan vi",
            "kunne vi",
            "kan du si om",
            "kan du sjekke om",
            "kan du finne ut om",
            "sjekk om",
            "vet du om",
            "veit du om",
            "jeg vil",
            "jeg vil gjerne",
            "jeg trenger",
            "eg vil",
            "eg treng",
            "vi trenger",
            "vi treng",
            "jeg lurer pa om",
            "eg lurer pa om",
            "can you",
            "could you",
            "would you",
            "will you",
            "can we",
            "could we",
            "can you tell me if",
            "can you check if",
            "could you tell me if",
            "tell me if",
            "check if",
            "do you know if",
            "i want to",
            "i need to",
            "i would like to",
            "i'd like to",
            "id like to",
            "i want",
            "i need",
            "let's",
            "lets",
            "please",
        )
    ),
    key=len,
    reverse=True,
)
# Trailing words that carry nothing: "ring lars for meg", "… takk".
_SUFFIXES = [("for", "meg"), ("for", "me"), ("er", "du", "snill"), ("vaer", "sa", "snill")]
_POLITE = {"please", "pls", "vennligst", "venlegst", "gjerne", "takk", "thanks"}
# Questions: "er ola ledig i morgen kl 10?", "is ola free at 10?", "har ola tid i morgen?".
_IS = {"er", "is", "are"}
_HAS = {"har", "has", "does"}
_WHEN = {"nar", "when"}
_FREE_WORDS = {"ledig", "free", "available", "opptatt", "busy", "oppteken", "tilgjengelig"}
_FREE_WORDS |= {"tilgjengeleg", "ledige"}
_TIME_WORDS = {"tid", "time", "have"}
_STATUS_WORDS = {"online", "palogget", "palogga", "innlogget", "inne", "borte", "away", "here"}
_STATUS_WORDS |= {"her", "pa", "at", "in", "doing", "gjer", "gjor", "i"}
_MEET_WORDS = {"mote", "mota", "motes", "meet", "treffe", "snakke", "talk"}
# "møte med kari i morgen om budsjett": the subject follows one of these.
_ABOUT = {"om", "about", "angaende", "ang", "vedrorande", "vedrorende", "regarding", "re"}
_STATUS_WORDS |= {"around", "there", "der", "tilstede", "inn"}
_SUITS = {"passer", "passar", "suits", "works", "does"}
_FILLER_NAME_START = {"det", "it", "for", "med", "with", "til", "suit", "passe"}
_CALENDAR_WORDS = {"kalender", "kalenderen", "kalendaren", "calendar"}
_CALENDAR_FILLER = {"vis", "meg", "show", "me", "sjekk", "check", "til", "for", "of", "the"}
_CALENDAR_FILLER |= {"on", "pa", "hva", "kva", "what", "is", "in", "i", "er", "sin", "open"}
# Words that are never (the start of) the name in a question.
_NOT_NAMES = {"du", "you", "jeg", "eg", "i", "vi", "we", "hva", "kva", "hvem", "kven", "who"}
_NOT_NAMES |= {"what", "noen", "nokon", "someone", "anyone", "det", "it", "der", "there"}
MAX_NAME_WORDS = 8  # a question's name part (people.MAX_QUERY_WORDS)


@dataclass(frozen=True, slots=True)
class Parsed:
    command: Command | None
    words: tuple[str, ...]  # folded argument words
    subject: str | None = None  # original spelling
    spelling: dict[str, str] = field(default_factory=dict)  # folded word -> as written
    suggestion: str | None = None  # "Mente du …?" for a message that was not understood

    def as_written(self, folded: str) -> str:
        return " ".join(self.spelling.get(word, word) for word in folded.split())


def split_subject(text: str) -> tuple[str, str | None]:
    """('møte Kari kl 10', 'Budsjett 2027') from 'møte Kari kl 10: Budsjett 2027'."""
    match = _SUBJECT.search(text)
    if match is None:
        return text, None
    subject = (match["q"] or match["t"] or match["d"] or "").strip()
    return text[: match.start()] + " " + text[match.end() :], subject or None


def parse(text: str) -> Parsed:
    head, subject = split_subject(text.strip())
    if _command(_trim(tokens(head)))[0] is Command.ROOM_REQUEST:
        return _room_request(text.strip())
    spelling = spellings(head)
    words = _trim(_english_contractions(tokens(head)))
    command, rest = _command(words)
    if command is Command.HELP and rest:  # "hjelp meg å finne tid med ola"
        inner = _drop_leading(rest, {"a", "til", "med", "to", "with", "me", "meg"})
        found, inner_rest = _command(inner)
        if found is None:
            found, inner_rest = _question(inner)
        if found is not None and found is not Command.HELP:
            command, rest = found, inner_rest
    if command is None:
        command, rest = _question(words)
    if command is None:
        return Parsed(None, tuple(words), subject, spelling, _suggest(words, spelling))
    if command is Command.MEETING and subject is None:
        rest, subject = _about(rest, spelling)
    rest = _without_filler(rest, command)
    return Parsed(command, tuple(w for w in rest if w), subject, spelling)


# Words in a command's arguments that name nothing: "book a 30 minute meeting with emma",
# "finn ein time som passar for ola".
_ARGUMENT_FILLER = [
    ("som", "passer", "for"),
    ("som", "passar", "for"),
    ("som", "passer"),
    ("som", "passar"),
    ("that", "suits"),
    ("that", "works", "for"),
    ("for", "alle"),
    ("for", "everyone"),
]
_MEETING_FILLER = {"a", "an", "et", "eit", "ett", "meeting", "mote", "motet"}
_TOGETHER = {"both", "begge", "samtidig", "together", "sammen", "saman", "alle"}
_CALL_FILLER = {"mobil", "mobilen", "mobile", "cell", "cellphone", "telefon", "phone"}


def _without_filler(words: list[str], command: Command) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(words):
        phrase = next((f for f in _ARGUMENT_FILLER if tuple(words[i : i + len(f)]) == f), None)
        if phrase is not None:
            out.append(",")  # what follows is the people
            i += len(phrase)
            continue
        if not (
            words[i] in _TOGETHER
            or (command is Command.MEETING and words[i] in _MEETING_FILLER)
            or (command is Command.CALL and words[i] in _CALL_FILLER)
        ):
            out.append(words[i])
        i += 1
    return out


_CONTRACTIONS = {"what's": ("what", "is"), "where's": ("where", "is"), "whats": ("what", "is")}
_CONTRACTIONS |= {"wheres": ("where", "is"), "how's": ("how", "is"), "it's": ("it", "is")}


def _english_contractions(words: list[str]) -> list[str]:
    """ "what's kari's status" -> "what is kari status"."""
    out: list[str] = []
    for word in words:
        word = word.replace("’", "'")
        if word in _CONTRACTIONS:
            out += _CONTRACTIONS[word]
        elif word.endswith("'s") and len(word) > 2:
            out.append(word[:-2])
        else:
            out.append(word)
    return out


_CANONICAL = {("kva", "tid"): "nar", ("hva", "tid"): "nar", ("what", "time"): "when"}
_CANONICAL |= {("kor", "tid"): "nar"}


def _trim(words: list[str]) -> list[str]:
    """Without punctuation at the end, greetings and politeness at the start or end."""
    words = [w if w == "?" else (w.rstrip("!?") or w) for w in words]
    if len(words) > 2 and tuple(words[:2]) in _CANONICAL:
        words[:2] = [_CANONICAL[(words[0], words[1])]]
    while len(words) > 1 and words[-1] in {"?", "!", ".", ","}:
        words.pop()
    if words and len(words[-1]) > 1:
        words[-1] = words[-1].rstrip("?!.")
    while len(words) > 1 and words[-1] in _POLITE | {"da", "?"}:
        words.pop()
    for suffix in _SUFFIXES:
        if len(words) > len(suffix) and tuple(words[-len(suffix) :]) == suffix:
            del words[-len(suffix) :]
    changed = True
    while changed and len(words) > 1:
        changed = False
        if words[0].rstrip(".") in _GREETINGS | _POLITE | {","}:
            words.pop(0)
            changed = True
            continue
        for prefix in _PREFIXES:
            if len(words) > len(prefix) and tuple(words[: len(prefix)]) == prefix:
                del words[: len(prefix)]
                changed = True
                break
    return words


def _command(words: list[str]) -> tuple[Command | None, list[str]]:
    for length in range(min(_LONGEST, len(words)), 0, -1):
        command = PHRASES.get(tuple(words[:length]))
        if command is not None:
            return command, words[length:]
    return None, words


def _question(words: list[str]) -> tuple[Command | None, list[str]]:
    """A question about someone: (command, the name words followed by the rest)."""
    if len(words) < 2:
        return None, words
    first, body = words[0], words[1:]
    if first in _WHEN and body[0] in _SUITS:
        # "når passer det for ola og kari", "when does it suit ola"
        rest = [w for w in body[1:3] if w not in _FILLER_NAME_START] + body[3:]
        return (Command.FIND_TIME, rest) if rest else (None, words)
    if first in _WHEN and body[0] in _IS | _HAS | {"kan", "can"}:
        # "når er ola ledig", "når kan jeg møte ola", "when can i meet ola"
        body = body[1:]
        meet = next((i for i, w in enumerate(body[:4]) if w in _MEET_WORDS), None)
        if meet is not None:
            return Command.FIND_TIME, body[meet + 1 :]
        end = _name_end(body, _FREE_WORDS | _TIME_WORDS)
        if end is not None:
            return Command.FIND_TIME, body[:end] + body[end + 1 :]
        return None, words
    if first in {"who", "hvem", "kven"} and body[0] in _IS and len(body) > 1:
        if not _FREE_WORDS & set(body[1:]):  # "hvem er ledig" names nobody
            return Command.STATUS, body[1:]
        return None, words
    if first in _IS:
        end = _name_end(body, _FREE_WORDS | _near_free_words(body))
        if end is not None:
            return Command.FREE, body[:end] + body[end + 1 :]
        end = _name_end(body, _STATUS_WORDS)
        if end is not None:
            return Command.STATUS, body[:end]
    if first in _HAS:
        end = _name_end(body, _TIME_WORDS | _FREE_WORDS)
        if end is not None:
            skip = 2 if body[end] == "have" and end + 1 < len(body) else 1
            return Command.FREE, body[:end] + body[end + skip :]
    if first in {"hva", "kva", "what"} and body[0] in _HAS and len(body) > 1:
        # "hva har kari i morgen", "what does kari have tomorrow"
        rest = [w for w in body[1:] if w not in {"have", "on", "planned", "planlagt"}]
        return Command.FREE, rest
    if first == "what" and body[0] == "is":
        end = _name_end(body[1:], {"doing", "status", "up"})
        if end is not None:
            return Command.STATUS, body[1 : end + 1]
    calendar = next((i for i, w in enumerate(words) if w in _CALENDAR_WORDS), None)
    if calendar is not None:
        # "vis kalenderen til kari i morgen", "show me kari's calendar tomorrow"
        before = _drop_leading(words[:calendar], _CALENDAR_FILLER)
        after = _drop_leading(words[calendar + 1 :], _CALENDAR_FILLER)
        rest = before + after
        return (Command.FREE, rest) if rest else (None, words)
    # The name first: "ola ledig i morgen?", "kari status", "Ola is free at 3pm".
    end = _name_end(words, _FREE_WORDS | {"status"}, start=0)
    if end is not None:
        names = words[:end]
        if names[-1] in _IS:
            names = names[:-1]
        command = Command.STATUS if words[end] == "status" else Command.FREE
        if names:
            return command, names + words[end + 1 :]
    return None, words


def _near_free_words(words: list[str]) -> set[str]:
    """Words of a question that are a typo of "ledig"/"free"/…: "er ola ledg i morgen"."""
    return {
        w
        for w in words[: MAX_NAME_WORDS + 1]
        if len(w) >= 4
        and w not in _FREE_WORDS
        and any(abs(len(w) - len(f)) <= 1 and distance(w, f) <= 1 for f in _FREE_WORDS)
    }


def _drop_leading(words: list[str], filler: set[str]) -> list[str]:
    start = 0
    while start < len(words) and words[start] in filler:
        start += 1
    return words[start:]


def _name_end(body: list[str], markers: set[str], start: int = 0) -> int | None:
    """Index of the first marker word after one to MAX_NAME_WORDS name words.

    None when there is no such marker, or the words before it are no name ("har du tid").
    """
    for i, word in enumerate(body[: MAX_NAME_WORDS + 1]):
        if word in markers:
            if i <= start or _NOT_NAMES & set(body[start:i]):
                return None
            return i
    return None


def _about(words: list[str], spelling: dict[str, str]) -> tuple[list[str], str | None]:
    """'kari i morgen om budsjett' -> (['kari', 'i', 'morgen'], 'budsjett' as written)."""
    for i, word in enumerate(words):
        if word in _ABOUT and i + 1 < len(words) and not starts_relative(words, i):
            subject = " ".join(spelling.get(w, w) for w in words[i + 1 :])
            return words[:i], subject
    return words, None


def _vocabulary() -> dict[int, set[str]]:
    """Command and question words by position in a phrase (first, second), for typos."""
    first = {p[0] for p in PHRASES} | _IS | _WHEN | {"hvor", "kvar", "where"}
    second = {p[1] for p in PHRASES if len(p) > 1}
    return {0: {w for w in first if len(w) > 2}, 1: {w for w in second if len(w) > 2}}


_VOCABULARY = _vocabulary()
MAX_TYPO_WORD = 20  # longer words are not compared (bounds the cost of a suggestion)


def _suggest(words: list[str], spelling: dict[str, str]) -> str | None:
    """The message with its first or second word corrected, if that makes it a command."""
    for position in (0, 1):
        if len(words) <= position or len(words[position]) > MAX_TYPO_WORD:
            continue
        word = words[position]
        limit = 1 if len(word) < 6 else 2
        ranked = sorted(
            (d, candidate)
            for candidate in _VOCABULARY[position]
            if candidate != word
            and abs(len(candidate) - len(word)) <= limit  # cheap: most words end here
            and (d := distance(word, candidate)) <= limit
        )
        if len(word) >= 3:  # "stat ola": the start of a command word
            ranked += [(9, c) for c in sorted(_VOCABULARY[position]) if c.startswith(word)]
        for _, candidate in ranked:
            fixed = [*words[:position], candidate, *words[position + 1 :]]
            command, _ = _command(fixed)
            if command is None:
                command, _ = _question(fixed)
            if command is not None:
                written = [spelling.get(w, w) for w in fixed]
                written[position] = _WRITTEN.get(candidate, candidate)
                return " ".join(written)
    return None


_WRITTEN = {"mote": "møte", "moter": "møter", "motetid": "møtetid", "nar": "når"}


def distance(a: str, b: str) -> int:
    """Edit distance with transpositions (optimal string alignment); short words only."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


_QUOTED = re.compile(r'["“«](?P<q>[^"”»]+)["”»]')
_MEMBERS_START = {"med", "with"}


def _room_request(text: str) -> Parsed:
    """'opprett prosjektrom «Ny skole» med kari og gruppa plan-bygg': the room's name (in
    quotes, or the words up to 'med'/'with') as the subject; the members as the words."""
    match = _QUOTED.search(text)
    head = text if match is None else text[: match.start()] + " " + text[match.end() :]
    spelling = spellings(head)
    _, rest = _command(_trim(tokens(head)))
    name = match["q"].strip() if match is not None else None
    if name is None:
        cut = next((i for i, w in enumerate(rest) if w in _MEMBERS_START), len(rest))
        name = " ".join(spelling.get(w, w) for w in rest[:cut]) or None
        rest = rest[cut:]
    return Parsed(Command.ROOM_REQUEST, tuple(rest), name or None, spelling)
