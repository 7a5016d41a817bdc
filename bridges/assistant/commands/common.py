"""Helpers the commands share: naming people back, and answering lookup problems."""

from __future__ import annotations

from collections.abc import Sequence

from bridges.assistant.context import Ask, Deps
from bridges.assistant.people import (
    Ambiguous,
    Found,
    Lookup,
    NotFound,
    TooManyNames,
    finder_for,
)
from bridges.assistant.when import When, WhenError, parse_when
from samtek.model import Person

MAX_QUOTE = 60  # characters of a name that was not found, quoted back


def label(deps: Deps, person: Person) -> str:
    """'Kari Nordmann (Kongsberg)': the municipality tells namesakes apart."""
    where = deps.municipalities.get(person.municipality, person.municipality)
    return f"{person.name} ({where})"


async def explain_lookup(deps: Deps, ask: Ask, result: Lookup) -> None:
    if isinstance(result, Ambiguous):
        options = [label(deps, p) for p in result.candidates]
        await ask.reply(ask.texts("ambiguous", options=ask.texts.either(options)))
    elif isinstance(result, NotFound):
        query = ask.parsed.as_written(result.query)
        if len(query) > MAX_QUOTE:
            query = query[:MAX_QUOTE] + "…"
        meant = (await finder_for(deps.directory).index()).suggest(result.query)
        if meant:
            names = ask.texts.either([label(deps, p) for p in meant])
            await ask.reply(ask.texts("not_found_meant", query=query, options=names))
        else:
            await ask.reply(ask.texts("not_found", query=query))


async def one_person(deps: Deps, ask: Ask, words: Sequence[str], usage: str) -> Person | None:
    """The single person named by `words`, or None after answering why not."""
    if not words:
        await ask.reply(ask.texts(usage))
        return None
    result = (await finder_for(deps.directory).index()).lookup(" ".join(words))
    if isinstance(result, Found):
        return result.person
    await explain_lookup(deps, ask, result)
    return None


async def many_people(
    deps: Deps, ask: Ask, words: Sequence[str], usage: str
) -> list[Person] | None:
    """Everyone named by `words` (no duplicates), or None after answering the first problem."""
    if not words:
        await ask.reply(ask.texts(usage))
        return None
    found: dict[str, Person] = {}
    try:
        results = (await finder_for(deps.directory).index()).lookup_many(words)
    except TooManyNames as exc:
        await ask.reply(ask.texts("too_many_names", limit=exc.limit))
        return None
    for result in results:
        if not isinstance(result, Found):
            await explain_lookup(deps, ask, result)
            return None
        found.setdefault(result.person.id, result.person)
    return list(found.values())


async def when_or_explain(ask: Ask, words: Sequence[str]) -> When | None:
    local = ask.now.astimezone(ask.texts.tz)
    try:
        return parse_when(list(words), local.date(), local)
    except WhenError as exc:
        await ask.reply(ask.texts("bad_date", token=exc.token))
        return None
