"""Natural phrasings through a real Prosody (issue 20): questions, ranges, subjects, typos.

The corpus (test_corpus.py) checks what every message means; these check whole answers.
"""

from __future__ import annotations

import asyncio
import re
from xml.etree import ElementTree as ET

import pytest
from slixmpp.exceptions import IqError

from samtek.devserver.prosody import ProsodyServer
from tests.assistant.chat_client import ChatClient
from tests.assistant.conftest import Chat
from tests.assistant.region import Region


def dm(region: Region) -> str:
    return f"{region.day.day}.{region.day.month}.{region.day.year}"


def day_text(region: Region, language: str) -> str:
    from bridges.assistant.texts import Texts

    return Texts(language, "Europe/Oslo").day(region.day)


async def test_questions_answer_yes_or_no_for_the_time_asked(chat: Chat) -> None:
    region, day = chat.region, day_text(chat.region, "nb")
    busy = await chat.anna.ask(f"er kari nordmann ledig {dm(region)} kl 9?")
    assert busy.splitlines()[0] == f"Nei, Kari Nordmann er opptatt {day} 09:00–09:30."
    free = await chat.anna.ask(f"Er Kari Nordmann ledig {dm(region)} 10-11?")
    assert free.splitlines()[0] == f"Ja, Kari Nordmann er ledig {day} 10:00–11:00."
    english = await chat.john.ask(f"is emma free {region.day.isoformat()} at 11:30?")
    # John's clock is London's: Emma's 11-12 Oslo is 10-11 London, so 11:30 London is free.
    assert (
        english.splitlines()[0] == f"Yes, Emma Hansen is free {day_text(region, 'en')} 11:30–12:00."
    )


async def test_find_time_on_a_day_searches_that_day_only(chat: Chat) -> None:
    region = chat.region
    answer = await chat.john.ask(f"find time with kari nordby {region.day.isoformat()}")
    slots = answer.splitlines()[1:]
    assert slots and all(day_text(region, "en") in line for line in slots), answer


async def test_meeting_with_range_and_subject_reaches_the_real_obstacle(chat: Chat) -> None:
    answer = await chat.anna.ask("møte med kari nordmann i morgen 14-15 om budsjett")
    assert answer.startswith("Kalenderen din er skrivebeskyttet for SAMTEK (cal_a)")


async def test_lists_and_typos(chat: Chat) -> None:
    both = await chat.anna.ask("status kari nordmann, per")
    assert [line.split(":")[0] for line in both.splitlines()] == [
        "Kari Nordmann",
        "Kari Nordmann er ikke pålogget i chatten (fra chatserveren).",
        "Per Ås",
        "Per Ås er ikke pålogget i chatten (fra chatserveren).",
    ]
    assert await chat.anna.ask("hjelpp") == "Jeg forstod ikke «hjelpp». Mente du «hjelp»?"
    assert await chat.nils.ask("statsu emma") == (
        "Eg forstod ikkje «statsu emma». Meinte du «status emma»?"
    )
    assert await chat.anna.ask("status emma hanssen") == (
        "Jeg finner ingen som heter «emma hanssen». Mente du Emma Hansen (Kongsberg)?"
    )
    assert await chat.john.ask("status kari nordmnan") == (
        "I cannot find anyone called “kari nordmnan”. Did you mean Kari Nordmann (Kongsberg)?"
    )


async def test_an_unknown_message_says_what_was_recognised(chat: Chat) -> None:
    assert await chat.nils.ask("kjem ola i morgon?") == (
        "Eg forstod ikkje «kjem ola i morgon?», men kjende att Ola Normann og i morgon."
        " Meinte du «ledig Ola Normann i morgon»?"
    )
    assert await chat.john.ask("coffee with lars") == (
        "I did not understand “coffee with lars”, but I recognised Lars Holm."
        " Did you mean “status Lars Holm”?"
    )
    assert await chat.anna.ask("hva er klokka") == (
        "Jeg forstod ikke «hva er klokka». Skriv «hjelp» for å se hva jeg kan."
    )


async def test_status_tells_online_or_offline_and_since_when(
    chat: Chat, prosody: ProsodyServer
) -> None:
    # Ola has not logged in since the server started: offline, since unknown.
    assert (await chat.anna.ask("status ola")).splitlines()[1] == (
        "Ola Normann er ikke pålogget i chatten (fra chatserveren)."
    )
    ola = ChatClient(prosody.jid("ola"), "pw", prosody.c2s_port, prosody.component_jid)
    await ola.connect()
    try:
        ola.set_presence(show="away", status="Lunsj")
        async with asyncio.timeout(15):  # hang guard while the presence travels
            while "Lunsj" not in (answer := await chat.nils.ask("status ola")):
                await asyncio.sleep(0.1)
        assert re.fullmatch(
            # "kl 11:02", or with the day when the answer came just after midnight
            r"Ola Normann er pålogga i chatten: borte – «Lunsj» sidan (\S+ \d+\. \S+ )?kl"
            r" \d\d:\d\d"
            r" \(frå chatserveren\)\.",
            answer.splitlines()[1],
        ), answer
    finally:
        await ola.disconnect()
    async with asyncio.timeout(15):
        while "not online" not in (answer := await chat.john.ask("status ola")):
            await asyncio.sleep(0.1)
    assert re.fullmatch(
        r"Ola Normann is not online in the chat since (\S+ \d+ \S+ )?\d\d:\d\d"
        r" \(from the chat server\)\.",
        answer.splitlines()[1],
    ), answer


async def test_only_the_component_may_ask_who_is_online(chat: Chat, prosody: ProsodyServer) -> None:
    anna = chat.anna
    assert anna.xmpp is not None
    iq = anna.xmpp.make_iq_get(ito=prosody.domain)
    query = ET.Element("{urn:samtek:presence-info:0}query")
    ET.SubElement(query, "{urn:samtek:presence-info:0}user", jid=prosody.jid("per"))
    iq.append(query)
    with pytest.raises(IqError) as refused:
        await iq.send(timeout=10)
    assert refused.value.condition == "forbidden"
