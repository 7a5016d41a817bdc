"""The status page's advice: causes and fixes for the errors that parts really report."""

from __future__ import annotations

from samtek.admin.advice import advise, plain

RAW_OOF = (
    'cannot set the OOF list: <iq xmlns="jabber:component:accept" type="error"'
    ' from="region.test" to="samtek.region.test" id="a1"><error type="cancel">'
    '<feature-not-implemented xmlns="urn:ietf:params:xml:ns:xmpp-stanzas" /></error></iq>'
)


def test_missing_oof_module_says_which_module_and_where() -> None:
    advice = advise("assistant", RAW_OOF)
    assert advice is not None
    assert "mod_samtek_oof is not loaded" in advice.cause
    assert "modules_enabled" in advice.fix and "deploy/prosody/README.md" in advice.fix


def test_raw_stanzas_become_their_condition() -> None:
    assert plain(RAW_OOF) == "cannot set the OOF list: the server answered feature-not-implemented"
    assert plain("timeout") == "timeout"


def test_common_connector_errors() -> None:
    tls = advise("connector:staff", "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    assert tls is not None and "ca_file" in tls.fix
    throttled = advise("connector:m365", "HTTP 429 from graph.microsoft.com")
    assert throttled is not None and "backs off" in throttled.fix
    refused = advise("xmpp", "[Errno 111] Connection refused")
    assert refused is not None and "component port" in refused.cause
    assert advise("connector:feeds", "something nobody has seen") is None
