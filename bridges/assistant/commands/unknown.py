"""A message that is no command: say what was recognised, and the nearest command for it.

"kjem ola i morgon?" -> "Eg forstod ikkje …, men kjende att Ola Normann og i morgon. Meinte
du «ledig Ola Normann i morgon»?". A word counts as a person only when it is a whole word of
exactly one person's name; at most MAX_NAMES words are looked up (bounded cost).
"""

from __future__ import annotations

from bridges.assistant.commands.common import MAX_QUOTE
from bridges.assistant.context import Ask, Deps
from bridges.assistant.normalize import fold
from bridges.assistant.people import MAX_NAMES, Found, finder_for
from bridges.assistant.when import When, WhenError, parse_when
from samtek.model import Person


async def run(deps: Deps, ask: Ask, echo: str) -> None:
    texts, parsed = ask.texts, ask.parsed
    if parsed.suggestion is not None:
        meant = parsed.suggestion
        if len(meant) > MAX_QUOTE:
            meant = meant[:MAX_QUOTE] + "…"
        await ask.reply(texts("unknown_meant", text=echo, meant=meant))
        return
    words = list(parsed.words)
    local = ask.now.astimezone(texts.tz)
    try:
        when = parse_when(words, local.date(), local)
    except WhenError:
        when = When(rest=tuple(words))
    timing = _consumed(words, list(when.rest))
    people = await _people(deps, list(when.rest))
    if not people:
        await ask.reply(texts("unknown_command", text=echo))
        return
    names = [p.name for p in people]
    written = parsed.as_written(" ".join(timing))
    command = texts("word_free") if timing else texts("word_status")
    meant = " ".join(part for part in (command, ", ".join(names), written) if part)
    parts = texts.all_of([*names, written] if written else names)
    await ask.reply(texts("unknown_understood", text=echo, parts=parts, meant=meant))


def _consumed(words: list[str], rest: list[str]) -> list[str]:
    """The words parse_when used (those not left in `rest`), in order."""
    used, pending = [], list(rest)
    for word in words:
        if pending and word == pending[0]:
            pending.pop(0)
        else:
            used.append(word)
    return used


async def _people(deps: Deps, words: list[str]) -> list[Person]:
    if len(words) > MAX_NAMES:
        return []
    index = await finder_for(deps.directory).index()
    found: list[Person] = []
    for word in words:
        result = index.lookup(word) if len(word) > 1 else None
        if (
            isinstance(result, Found)
            and word in fold(result.person.name).split()
            and result.person not in found
        ):
            found.append(result.person)
    return found
