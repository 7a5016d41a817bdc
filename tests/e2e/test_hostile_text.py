"""Characters XML 1.0 forbids never reach a stanza: the component link stays up.

Exchange really sends `&#x1B;` and `&#x1A;` in subjects and Graph JSON can carry U+0007 and
U+000B; an ICS feed carries them just as well. alice shows meeting subjects to contacts; a
meeting with such a subject must show bob a clean status, with the component still
connected (Prosody closes a stream carrying such a character with `not-well-formed`).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

import pytest

from samtek.devserver.prosody import ProsodyServer
from samtek.xmpp.xmltext import MAX_STATUS, MAX_TEXT, clean_element, xml_text
from tests.e2e.regions import ics_meeting, next_whole_second, write_config, write_ics
from tests.e2e.test_calendar_presence import OWN_STATUS, online_pair, setup_users

OSLO = ZoneInfo("Europe/Oslo")
HOSTILE = "Bud\x1bsj\x07e\x0btt\x1a\x00\x7f"


async def test_forbidden_characters_in_a_subject_leave_the_link_up(
    prosody: ProsodyServer, samtek_service, tmp_path: Path
) -> None:
    setup_users(prosody)
    await prosody.start()
    alice, bob = await online_pair(prosody)
    start = next_whole_second(2.5)
    end = start + timedelta(seconds=2)
    long_end = end + timedelta(seconds=2)
    feed = tmp_path / "alice.ics"
    write_ics(
        feed,
        ics_meeting("hostile", start, end).replace("SUMMARY:Prosjektmøte", f"SUMMARY:{HOSTILE}"),
        ics_meeting("long", end, long_end).replace("Prosjektmøte", "A" * 20_000),
    )
    config = write_config(tmp_path, prosody, {"alice": feed}, show_subject=True)
    service = await samtek_service(config).start()
    alice_jid = prosody.jid("alice")

    hostile = await bob.next_from(alice_jid)
    assert hostile.show == "dnd"
    assert hostile.status == f"I møte: Budsjett (til {end.astimezone(OSLO):%H:%M})"
    long = await bob.next_from(alice_jid)
    assert long.show == "dnd" and long.status.startswith("I møte: AAAA")
    assert len(long.status) <= MAX_STATUS and long.status.endswith("…")
    own = await bob.next_from(alice_jid)
    assert (own.show, own.status) == ("", OWN_STATUS)
    xmpp = service.supervisor.health()["xmpp"].snapshot()
    assert xmpp.restarts == 0 and xmpp.last_error is None, xmpp
    await alice.disconnect()
    await bob.disconnect()


@pytest.mark.parametrize(
    "bad", ["\x1b", "\x1a", "\x07", "\x0b", "\x0c", "\x00", "\ud800", "\udfff", "\ufffe", "\uffff"]
)
def test_xml_text_drops_what_xml_forbids(bad: str) -> None:
    assert xml_text(f"a{bad}b") == "ab"


def test_xml_text_keeps_what_xml_allows() -> None:
    text = "Møte\tom\nbudsjett\r – 😀 \U0010fffd"
    assert xml_text(text) == text


def test_every_text_and_attribute_of_a_stanza_is_cleaned_and_bounded() -> None:
    stanza = ET.fromstring(
        "<message to='x@y'><body>b</body><status>s</status><x a='v'>t</x>tail</message>"
    )
    body, status, extra = list(stanza)
    body.text = "\x1b" + "b" * (MAX_TEXT * 2)
    status.text = "s\x07" * MAX_TEXT
    extra.attrib["a"] = "v\x0b" * 3000
    extra.tail = "t\ud800"
    clean_element(stanza)
    assert body.text is not None and len(body.text) == MAX_TEXT and body.text.endswith("…")
    assert status.text is not None and len(status.text) == MAX_STATUS
    assert "\x07" not in status.text and "\x0b" not in extra.attrib["a"]
    assert extra.tail == "t"
    ET.fromstring(ET.tostring(stanza, encoding="unicode"))  # well-formed again
