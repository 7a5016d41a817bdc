"""One chat message must not freeze the service (security issue, item 2).

A long message, or one naming very many people, is refused with a friendly answer before any
lookup; a message within the limits costs a bounded number of index probes however large the
directory is, and the name index is built once per directory change, not per message. The
figures (another user's p99 under a flood of such messages) are in bench/assistant_flood.py.
"""

from __future__ import annotations

from bridges.assistant.people import MAX_NAMES, MAX_PROBES, finder_for
from samtek.events import DirectoryPerson, DirectoryUpdate
from tests.assistant.conftest import Chat

BULK = 3_000
FIRST = ("Anne", "Arne", "Aslak", "Astrid", "Aud", "Kari", "Ola")
LAST = ("Aas", "Aasen", "Andersen", "Aune", "Berg")


async def test_a_long_message_is_refused_kindly_in_the_askers_language(chat: Chat) -> None:
    assert await chat.anna.ask("finn tid " + "a " * 1_000) == (
        "Meldingen er for lang for meg (høyst 500 tegn). Skriv én kommando, for eksempel"
        " «finn tid Kari, Per i morgen»."
    )
    assert (await chat.nils.ask("x og " * 400)).startswith("Meldinga er for lang for meg")
    assert (await chat.john.ask("find time " + "a, " * 300)).startswith(
        "That message is too long for me (at most 500 characters)."
    )


async def test_too_many_names_get_a_friendly_answer(chat: Chat) -> None:
    too_many = "Jeg kan ta med høyst 12 personer i én kommando."
    assert (await chat.anna.ask("finn tid " + "x og " * 60 + "x")).startswith(too_many)
    assert (await chat.anna.ask("møte " + "x " * 200 + "i morgen kl 10")).startswith(too_many)
    assert (await chat.nils.ask("finn tid " + "kari, " * MAX_NAMES + "emma")).startswith(
        "Eg kan ta med høgst 12 personar i éin kommando."
    )
    assert (await chat.john.ask("find time " + " and ".join(["emma"] * 13))).startswith(
        "I can include at most 12 people in one command."
    )
    # At the limit it still works: twelve names (here all the same person) are one person.
    found = await chat.anna.ask("finn tid " + ", ".join(["emma hansen"] * MAX_NAMES))
    assert found.startswith("Første felles ledige tider for Anna Berg, Emma Hansen")


async def test_lookups_probe_the_index_a_bounded_number_of_times(chat: Chat) -> None:
    directory = chat.service.directory
    domain = chat.anna.jid.split("@", 1)[1]
    assert await chat.anna.ask("status emma") == await chat.anna.ask("status emma")
    finder = finder_for(directory)
    assert finder.builds == 1  # built at the first lookup, reused for the second

    # A directory change with thousands of people whose names share their first letters.
    bulk = tuple(
        DirectoryPerson(
            id=f"bulk{i}",
            jid=f"bulk{i}@{domain}",
            name=f"{FIRST[i % len(FIRST)]} {FIRST[i // 7 % len(FIRST)]} {LAST[i % len(LAST)]}",
            municipality="kongsberg",
            phones=(str(20_000 + i),),
        )
        for i in range(BULK)
    )
    await directory.apply(DirectoryUpdate("bulk", bulk, {}))
    worst = [
        "finn tid " + ", ".join(["a a a a a a a a"] * MAX_NAMES),
        "finn tid " + " og ".join(["a ar arn arne as asl a"] * MAX_NAMES),
        "finn tid " + " ".join(["a"] * MAX_NAMES),
        "finn tid "
        + ", ".join(["k", "ka", "kar", "kari", "o", "ol", "ola", "a", "b", "c", "d"])
        + " 1 t innen fredag",
        "møte " + ", ".join(str(20_000 + i) for i in range(MAX_NAMES)) + " i morgen kl 10",
        "status " + "a " * 100,
        "statsu " + "xaxbxcxd " * 54,
        "status " + " ".join(["anneaslakastridaudxx"] * 8) + ", " + ", ".join(["arnex"] * 11),
        "kjem anne arne aud kari astrid i morgen kl 10?",
    ]
    for text in worst:
        index = await finder.index()
        before = index.probes
        answer = await chat.anna.ask(text)
        assert answer, text
        assert (await finder.index()) is index, "the index was rebuilt for a message"
        assert index.probes - before <= MAX_PROBES, (text, index.probes - before)
    assert finder.builds == 2  # once more, for the one directory change
    assert len(await finder.index()) == len(directory.people()) >= BULK
