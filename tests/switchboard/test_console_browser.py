"""The console in a real headless Chromium, keyboard only: an operator from slapd logs in,
finds Kari with a typo, sees her meeting start change the row live (the page never polls:
only the SSE stream can change it), and leaves a phone note that reaches her real XMPP
client once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from slixmpp.stanza import Message

from tests.e2e.regions import ics_meeting, next_whole_second, write_ics
from tests.switchboard.browser import Browser
from tests.switchboard.conftest import OPERATOR, OPERATOR_PASSWORD, Console
from tests.xmpp_clients import TestClient

ROW = "document.querySelector('#results tr[data-id=\"kari\"]')"


async def test_operator_finds_kari_sees_her_meeting_start_and_leaves_a_note(
    console: Console,
) -> None:
    prosody = console.prosody
    notes: asyncio.Queue[str] = asyncio.Queue()

    def on_message(message: Message) -> None:
        if message["from"].bare == prosody.component_jid and message["body"]:
            notes.put_nowait(message["body"])

    kari = TestClient(prosody.jid("kari"), "pw", prosody.c2s_port)
    await kari.connect(on_message)
    assert kari.xmpp is not None
    kari.xmpp.register_plugin("xep_0184")  # her client confirms delivery, as real ones do
    browser = Browser()
    try:
        await browser.start()
        await browser.goto(console.base)
        # Log in with the keyboard: the user name field has the focus.
        await browser.wait_for("!document.getElementById('login').hidden")
        await browser.wait_for("document.activeElement.id === 'username'")
        await browser.type(OPERATOR)
        await browser.evaluate("document.getElementById('password').focus()")
        await browser.type(OPERATOR_PASSWORD)
        await browser.press("Enter")
        await browser.wait_for("document.getElementById('live').textContent === 'Direkte'")
        assert "Siri Sentralbord (1000)" in await browser.evaluate(
            "document.getElementById('operator').textContent"
        )

        # "/" focuses the search; a swapped letter still finds Kari Nordmann.
        await browser.evaluate("document.activeElement.blur()")
        await browser.press("/")
        await browser.type("nordmnan")
        await browser.wait_for(f"{ROW} && {ROW}.dataset.state === 'free'")
        assert await browser.evaluate("document.getElementById('search').value") == "nordmnan"
        assert "Kari Nordmann" in await browser.evaluate(f"{ROW}.textContent")
        assert "Kongsberg kommune" in await browser.evaluate(f"{ROW}.textContent")

        # A meeting starts in a few seconds: the row turns to "I møte" without any reload.
        start = next_whole_second(3)
        write_ics(console.ics("kari"), ics_meeting("m1", start, start + timedelta(hours=1)))
        await browser.evaluate("window.marker = 'same page'")
        await browser.wait_for(f"{ROW}.dataset.state === 'meeting'", timeout=30)
        text = await browser.evaluate(f"{ROW}.textContent")
        assert "I møte" in text
        assert "Prosjektmøte" not in text  # Kari did not opt in to showing subjects
        assert await browser.evaluate("window.marker") == "same page"

        # Enter opens her; "n" opens the phone note; Enter sends it.
        await browser.press("Enter")
        await browser.wait_for("document.activeElement.id === 'detail'")
        await browser.press("n")
        await browser.wait_for("document.activeElement.name === 'caller'")
        await browser.type("Ola Hansen")
        await browser.evaluate("document.querySelector('form.note [name=number]').focus()")
        await browser.type("926 12 345")
        await browser.evaluate("document.querySelector('form.note [name=about]').focus()")
        await browser.type("byggesak")
        await browser.press("Enter")
        form = "document.querySelector('form.note')"
        # Sent at once; delivered when Kari's client confirms it (XEP-0184 receipt).
        await browser.wait_for(f"{form}.dataset.result === 'delivered'")
        status = await browser.evaluate(f"{form}.querySelector('.note-status').textContent")
        assert status.startswith("Levert til Kari Nordmann (mottatt ")
        first = await asyncio.wait_for(notes.get(), 10)
        assert first == (
            "Telefonnotat fra sentralbordet (Siri Sentralbord): Ring tilbake til Ola Hansen,"
            " 926 12 345, om byggesak."
        )
        # Enter again on the same note (a double press): answered, but not sent again.
        await browser.evaluate(f"{form}.querySelector('[name=about]').focus()")
        await browser.evaluate(f"{form}.dataset.result = ''")
        await browser.press("Enter")
        await browser.wait_for(f"{form}.dataset.result === 'delivered'")
        # A second, new note: XMPP keeps the order, so a repeat would have arrived first.
        await browser.press("Escape")
        await browser.press("Enter")
        await browser.wait_for("document.activeElement.id === 'detail'")
        await browser.press("n")
        await browser.wait_for("document.activeElement.name === 'caller'")
        await browser.type("Per Berg")
        await browser.press("Enter")
        second = await asyncio.wait_for(notes.get(), 10)
        assert second.endswith("Ring tilbake til Per Berg.")
        assert notes.empty()
        await browser.wait_for(f"{form}.dataset.result === 'delivered'")
    finally:
        await browser.close()
        await kari.disconnect()

    assert console.service.switchboard is not None
    entries = await console.service.switchboard.audit.query(actor=f"switchboard:{OPERATOR}")
    actions = [(e.action, e.outcome) for e in reversed(entries)]
    assert actions == [
        ("switchboard.login", "ok"),
        ("switchboard.note", "sent"),
        ("switchboard.note", "delivered"),
        ("switchboard.note", "sent"),
        ("switchboard.note", "delivered"),
    ]
