"""SIP message and dialog-info parsing (pure functions; bodies as Kamailio 5.6 sends them)."""

from __future__ import annotations

import pytest

from connectors.sip.dialoginfo import (
    DialogInfoError,
    DialogState,
    DialogTracker,
    Transition,
    parse_dialog_info,
)
from connectors.sip.message import parse, parse_name_addr, split_header_list, uri_user

_DOC = """<?xml version="1.0"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="{version}" state="{kind}"
  entity="sip:1002@127.0.0.1">
{dialogs}</dialog-info>
"""
_DIALOG = """  <dialog id="{id}" call-id="{id}-cid" direction="{direction}">
    <state>{state}</state>
    <remote><identity display="Anna Berg">sip:1001@127.0.0.1:5060</identity></remote>
    <local><identity>sip:1002@127.0.0.1:5060;transport=udp</identity></local>
  </dialog>
"""


def doc(version: int, *dialogs: tuple[str, str, str], kind: str = "full") -> bytes:
    body = "".join(_DIALOG.format(id=i, state=s, direction=d) for i, s, d in dialogs)
    return _DOC.format(version=version, kind=kind, dialogs=body).encode()


def transitions(tracker: DialogTracker, body: bytes) -> list[tuple[str, Transition]]:
    return [(c.dialog.id, c.transition) for c in tracker.apply(parse_dialog_info(body))]


def test_parse_kamailio_document() -> None:
    info = parse_dialog_info(doc(3, ("d1", "early", "recipient")))
    assert info is not None and info.full and info.version == 3
    (dialog,) = info.dialogs
    assert dialog.state is DialogState.EARLY
    assert dialog.call_id == "d1-cid"
    assert dialog.remote_uri == "sip:1001@127.0.0.1:5060"
    assert dialog.remote_display == "Anna Berg"
    assert parse_dialog_info(b"") is None  # first NOTIFY of a subscription may be empty


def test_missed_reported_once_although_full_state_repeats_terminated() -> None:
    tracker = DialogTracker()
    assert transitions(tracker, doc(1, ("d1", "early", "recipient"))) == [
        ("d1", Transition.RINGING)
    ]
    assert tracker.ringing
    ended = doc(2, ("d1", "terminated", "recipient"))
    assert transitions(tracker, ended) == [("d1", Transition.MISSED)]
    again = doc(3, ("d1", "terminated", "recipient"), ("d2", "early", "recipient"))
    assert transitions(tracker, again) == [("d2", Transition.RINGING)]


def test_answered_then_hung_up_and_vanished_dialog_ends() -> None:
    tracker = DialogTracker()
    transitions(tracker, doc(1, ("d1", "early", "recipient")))
    assert transitions(tracker, doc(2, ("d1", "confirmed", "recipient"))) == [
        ("d1", Transition.ANSWERED)
    ]
    assert tracker.busy
    # The terminated entry was never seen (e.g. it expired): absence in full state ends it.
    assert transitions(tracker, doc(3)) == [("d1", Transition.HUNG_UP)]
    assert not tracker.busy


def test_a_late_early_state_does_not_unanswer_a_call() -> None:
    # Seen on Kamailio under load: the PUBLISH for "early" reached the presence server after
    # the one for "confirmed", so a newer NOTIFY says "early" again. RFC 4235 §3.7.1: a
    # confirmed dialog only terminates; the call stays answered (and transferable).
    tracker = DialogTracker()
    transitions(tracker, doc(2, ("d1", "trying", "initiator")))
    assert transitions(tracker, doc(3, ("d1", "confirmed", "initiator"))) == [
        ("d1", Transition.ANSWERED)
    ]
    assert transitions(tracker, doc(4, ("d1", "early", "initiator"))) == []
    assert [d.id for d in tracker.answered()] == ["d1"]
    assert tracker.busy
    assert transitions(tracker, doc(5, ("d1", "terminated", "initiator"))) == [
        ("d1", Transition.HUNG_UP)
    ]


def test_partial_state_does_not_end_unlisted_dialogs_and_stale_versions_are_ignored() -> None:
    tracker = DialogTracker()
    transitions(tracker, doc(5, ("d1", "confirmed", "recipient")))
    assert transitions(tracker, doc(6, ("d2", "early", "recipient"), kind="partial")) == [
        ("d2", Transition.RINGING)
    ]
    assert transitions(tracker, doc(4, ("d1", "terminated", "recipient"))) == []
    assert tracker.busy and tracker.ringing


def test_dialog_first_seen_terminated_is_not_guessed() -> None:
    tracker = DialogTracker()
    assert transitions(tracker, doc(1, ("d1", "terminated", "recipient"))) == []


def test_outgoing_unanswered_call_is_hung_up_not_missed() -> None:
    tracker = DialogTracker()
    assert transitions(tracker, doc(1, ("d1", "trying", "initiator"))) == [
        ("d1", Transition.RINGING)
    ]
    assert tracker.calling
    assert transitions(tracker, doc(2, ("d1", "terminated", "initiator"))) == [
        ("d1", Transition.HUNG_UP)
    ]


def test_dtd_and_garbage_are_refused() -> None:
    with pytest.raises(DialogInfoError, match="DTD"):
        parse_dialog_info(b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x/>')
    with pytest.raises(DialogInfoError, match="not well-formed"):
        parse_dialog_info(b"<dialog-info")
    with pytest.raises(DialogInfoError, match="unknown state"):
        parse_dialog_info(doc(1, ("d1", "ringing", "recipient")))


def test_parse_request_with_compact_and_folded_headers() -> None:
    raw = (
        b"NOTIFY sip:samtek@10.0.0.5:5070 SIP/2.0\r\n"
        b"v: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1,SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK2\r\n"
        b"f: <sip:1002@pbx>;tag=abc\r\n"
        b't: "SAMTEK" <sip:samtek@pbx>;tag=def\r\n'
        b"i: cid-1\r\n"
        b"CSeq: 7 NOTIFY\r\n"
        b"o: dialog\r\n"
        b"Subscription-State: active;\r\n expires=300\r\n"
        b"l: 5\r\n\r\nhello-extra"
    )
    msg = parse(raw)
    assert msg.method == "NOTIFY" and msg.call_id == "cid-1"
    assert msg.cseq == (7, "NOTIFY")
    assert msg.top_branch == "z9hG4bK1"
    assert len(msg.get_all("Via")) == 2
    assert msg.get("Event") == "dialog"
    assert msg.get("Subscription-State") == "active; expires=300"
    assert msg.body == b"hello"
    assert parse_name_addr(msg.require("To")).display == "SAMTEK"


def test_uri_helpers() -> None:
    assert uri_user("sip:1001@127.0.0.1:5060;transport=udp") == "1001"
    assert uri_user("tel:+4712345678;phone-context=x") == "+4712345678"
    assert uri_user("sip:127.0.0.1") is None
    assert split_header_list('<sip:a;lr>, "x, y" <sip:b>') == ["<sip:a;lr>", '"x, y" <sip:b>']
