"""Conversations with the assistant through a real Prosody, in bokmål, nynorsk and English.

anna (nb, Europe/Oslo), nils (nn) and john (en, Europe/London) use ordinary slixmpp clients
and chat with the component's JID; `stranger` has an account but is not in the directory.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

import pytest

from samtek.devserver.prosody import ProsodyServer
from tests.assistant.chat_client import ChatClient
from tests.assistant.conftest import Chat
from tests.assistant.region import LONDON, OSLO, Region
from tests.instants import until_text


def dm(region: Region) -> str:
    return f"{region.day.day}.{region.day.month}.{region.day.year}"


async def ask_at(chat: Chat, client: ChatClient, question: str) -> tuple[str, set[datetime]]:
    """The answer, and the instants it was given between (an "until" may read either way
    if midnight falls while the question travels)."""
    before = chat.clock.now()
    answer = await client.ask(question)
    return answer, {before, chat.clock.now()}


@pytest.mark.clock_sensitive
async def test_bokmal_conversation(chat: Chat) -> None:
    anna, region = chat.anna, chat.region
    assert (await anna.ask("hjelp")).startswith("Dette kan jeg")

    status, asked = await ask_at(chat, anna, "Status  per ås")
    ends = {until_text(region.now_meeting_end, at, OSLO, "nb") for at in asked}
    first, online = status.splitlines()
    assert first in {f"Per Ås: I møte til {end} (fra kalenderen)." for end in ends}
    assert online == "Per Ås er ikke pålogget i chatten (fra chatserveren)."
    assert "Lønn" not in status  # private: never the subject

    assert await anna.ask("status kari") == (
        "Mente du Kari Nordby (Notodden) eller Kari Nordmann (Kongsberg)?"
    )
    assert await anna.ask("status Ingen Slik") == "Jeg finner ingen som heter «Ingen Slik»."

    free = await anna.ask(f"LEDIG kari nordmann {dm(region)}")
    lines = free.splitlines()
    assert lines[0].startswith("Kari Nordmann, ") and lines[1] == "• 08:00–10:00 opptatt"
    assert lines[2] == "Ledig i arbeidstiden: 10:00–16:00."

    bad = await anna.ask("ledig kari nordmann 31.2")
    assert bad.startswith("Jeg forstår ikke «31.2» som dato")

    found = await anna.ask(
        f"finn tid kari nordmann, kari nordby og emma {dm(region)} innen {dm(region)}"
    )
    assert found.splitlines() == [
        "Første felles ledige tider for Anna Berg, Kari Nordmann, Kari Nordby, Emma Hansen"
        " (30 min):",
        f"• {_day_nb(region)} 12:00–12:30",
        f"• {_day_nb(region)} 14:00–14:30",
    ]
    booked = await anna.ask("møte kari nordmann i morgen kl 10: Budsjett")
    assert booked.startswith("Kalenderen din er skrivebeskyttet for SAMTEK (cal_a)")
    assert await anna.ask("ring kari nordmann") == (
        "Ringing via SAMTEK er ikke satt opp i denne regionen."
    )
    assert await anna.ask("møter") == "«møter» virker bare i et prosjektrom."
    assert (await anna.ask("hva er klokka")).startswith("Jeg forstod ikke «hva er klokka»")


@pytest.mark.clock_sensitive
async def test_nynorsk_conversation(chat: Chat) -> None:
    nils, region = chat.nils, chat.region
    assert (await nils.ask("Hjelp")).startswith("Dette kan eg")
    status, asked = await ask_at(chat, nils, "kvar er Emma")
    ends = {until_text(region.now_meeting_end, at, OSLO, "nn") for at in asked}
    first, online = status.splitlines()
    assert first in {
        f"Emma Hansen: I møte: Budget review (til {end}) (frå kalenderen)." for end in ends
    }
    assert online == "Emma Hansen er ikkje pålogga i chatten (frå chatserveren)."
    assert (await nils.ask("status kari")).startswith("Meinte du Kari Nordby (Notodden) eller")
    assert await nils.ask("status nokon") == "Eg finn ingen som heiter «nokon»."
    free = await nils.ask(f"ledig kari nordby {dm(region)}")
    assert free.splitlines()[1:] == [
        "• 10:00–11:00 oppteken",
        "• 15:30–17:00 oppteken",
        "Ledig i arbeidstida: 08:00–10:00, 11:00–15:30.",
    ]
    bad = await nils.ask("finn tid emma innan 30.02")
    assert bad.startswith("Eg forstår ikkje «30.02» som dato")
    found = await nils.ask(f"Finn tid Kari Nordmann, Emma 1 t {dm(region)} innan {dm(region)}")
    assert found.splitlines()[1:] == [
        f"• {_day(region, 'nn')} 10:00–11:00",
        f"• {_day(region, 'nn')} 12:00–13:00",
        f"• {_day(region, 'nn')} 14:00–15:00",
    ]
    assert (await nils.ask("møte emma i morgon kl 9")).startswith(
        "Kalenderen din er skriveverna for SAMTEK (cal_b)"
    )
    assert await nils.ask("ring emma") == "Ringing via SAMTEK er ikkje sett opp i denne regionen."
    # A calendar that cannot be read is named, not guessed at.
    (region.config.parent / "karin.ics").unlink()
    assert await nils.ask("ledig kari nordby") == (
        "Kalenderen til Kari Nordby svarar ikkje akkurat no. Prøv igjen litt seinare."
    )


@pytest.mark.clock_sensitive
async def test_english_conversation_in_the_askers_timezone(chat: Chat) -> None:
    john, region = chat.john, chat.region
    assert (await john.ask("HELP")).startswith("Here is what I can do")
    status, asked = await ask_at(chat, john, "where is per@region.test")
    # On John's (London) clock, whose midnight is an hour after Oslo's.
    ends = {until_text(region.now_meeting_end, at, LONDON, "en") for at in asked}
    first, online = status.splitlines()
    assert first in {f"Per Ås: In a meeting until {end} (from the calendar)." for end in ends}
    assert online == "Per Ås is not online in the chat (from the chat server)."
    assert (await john.ask("status kari")).startswith("Did you mean Kari Nordby (Notodden) or")
    assert await john.ask("status kari@nowhere.test") == (
        "I cannot find anyone called “kari@nowhere.test”."
    )
    iso = region.day.isoformat()
    free = await john.ask(f"free emma.hansen {iso}")
    assert free.startswith("I cannot find anyone called")
    free = await john.ask(f"free emma@kommune.test {iso}")
    # Emma's 11-12 and 13-14 Oslo time, shown on John's London clock.
    assert free.splitlines()[1:3] == ["• 10:00–11:00 busy", "• 12:00–13:00 busy"]
    assert (await john.ask("free emma 2026-13-01")).startswith("I do not understand “2026-13-01”")
    found = await john.ask(f"find time kari nordmann, kari nordby, emma {iso} by {iso}")
    # Working hours 08-16 London = 09-17 Oslo: common free 12-13 and 14-15:30 Oslo.
    assert found.splitlines() == [
        "First common free times for John Smith, Kari Nordmann, Kari Nordby, Emma Hansen (30 min):",
        f"• {_day(region, 'en')} 11:00–11:30",
        f"• {_day(region, 'en')} 13:00–13:30",
    ]
    assert (await john.ask("meeting emma tomorrow at 10 1 h: Plan")).startswith(
        "Your calendar is read-only for SAMTEK (cal_c)"
    )
    assert await john.ask("call 1002") == "Calling through SAMTEK is not set up in this region."
    assert await john.ask("meetings") == "“meetings” only works in a project room."


async def test_unknown_asker_gets_a_polite_refusal(chat: Chat) -> None:
    answer = await chat.stranger.ask("hjelp")
    assert answer.splitlines() == [
        "Beklager, jeg svarer bare personer i regionen som er registrert i SAMTEK.",
        "Sorry, I only answer people of the region who are registered in SAMTEK.",
    ]


@pytest.mark.parametrize("chat", [5], indirect=True)
async def test_flood_is_rate_limited_and_others_are_answered_promptly(chat: Chat) -> None:
    anna, john = chat.anna, chat.john
    started = time.monotonic()
    for i in range(100):
        anna.say(f"status kari nordmann {i}" if i % 2 else "hjelp")
    flood_sent = time.monotonic() - started
    asked = time.monotonic()
    answer = await john.ask("help")
    latency = time.monotonic() - asked
    print(
        f"flood of 100 sent in {flood_sent * 1e3:.0f} ms; other's answer in {latency * 1e3:.0f} ms"
    )
    assert flood_sent < 1.0
    assert answer.startswith("Here is what I can do")
    assert latency < 2.0  # "promptly": the bound for a flood from someone else
    replies = [await anna.next_reply() for _ in range(6)]
    assert sum(r.startswith("Rolig nå") for r in replies) == 1
    await asyncio.sleep(1.0)  # anything more would have arrived by now
    assert anna.inbox.empty(), "the flood got more than 5 answers and one warning"
    # After the bucket refills (0.5 token/s) anna is answered again.
    await asyncio.sleep(2.0)
    assert (await anna.ask("hjelp")).startswith("Dette kan jeg")


def _day_nb(region: Region) -> str:
    return _day(region, "nb")


def _day(region: Region, language: str) -> str:
    from bridges.assistant.texts import Texts

    return Texts(language, "Europe/Oslo").day(region.day)


@pytest.mark.clock_sensitive  # the overlay's `until` crosses to Prosody's real clock
async def test_status_says_when_the_persons_own_status_wins(
    chat: Chat, prosody: ProsodyServer
) -> None:
    # Per is in a meeting; he logs in and sets his own status by hand, which dismisses the
    # overlay on the server (reported to SAMTEK as a manual change).
    per = ChatClient(prosody.jid("per"), "pw", prosody.c2s_port, prosody.component_jid)
    await per.connect()
    try:
        per.set_presence(show="chat", status="Ledig likevel")
        async with asyncio.timeout(15):  # hang guard while the dismissal travels
            while True:
                answer = await chat.anna.ask("status per")
                if "har selv satt" in answer:
                    break
                await asyncio.sleep(0.2)
        first, note, online = answer.splitlines()
        assert first.startswith("Per Ås: I møte til ")
        assert note == "Per Ås har selv satt en annen status i chatten, og den vises nå."
        assert online.startswith("Per Ås er pålogget i chatten: tilgjengelig – «Ledig likevel»")
    finally:
        await per.disconnect()
