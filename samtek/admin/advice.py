"""Turns the errors that parts report into what an admin needs: the cause and the fix.

Errors come from many layers (raw XMPP error stanzas, TLS, HTTP statuses, LDAP result codes).
Each rule matches the part and the error text and says, in plain words, what is wrong and what
to change. An error no rule knows is shown as it is, but never as a raw stanza.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Advice:
    cause: str
    fix: str


@dataclass(frozen=True, slots=True)
class _Rule:
    part: re.Pattern[str]
    error: re.Pattern[str]
    advice: Advice


def _rule(part: str, error: str, cause: str, fix: str) -> _Rule:
    return _Rule(re.compile(part, re.I), re.compile(error, re.I), Advice(cause, fix))


_NOT_LOADED = r"feature-not-implemented|service-unavailable|item-not-found"
RULES: tuple[_Rule, ...] = (
    _rule(r"assistant|oof", rf"OOF list.*({_NOT_LOADED})",
          "the server module mod_samtek_oof is not loaded, so out-of-office auto-replies are off",
          'add "samtek_oof" to modules_enabled on the users\' host and set'
          " samtek_oof_trusted; see deploy/prosody/README.md"),
    _rule(r"presence", rf"overlay.*({_NOT_LOADED})",
          "the server module mod_samtek_overlay is not loaded: contacts see no calendar or"
          " phone presence",
          'add "samtek_overlay" to modules_enabled on the users\' host; see'
          " deploy/prosody/README.md"),
    _rule(r"presence|rooms|assistant", r"forbidden|not-authorized|not-allowed",
          "the XMPP server does not trust SAMTEK's component JID for this request",
          "list the component JID in the module's *_trusted option (samtek_overlay_trusted,"
          " samtek_rooms_trusted, samtek_oof_trusted) and as a MUC admin"),
    _rule(r"xmpp", r"refused|unreachable|no route|timed? ?out|cannot connect",
          "the XMPP server does not answer on its component port",
          "check that the server runs and that [xmpp] host and port match its component"
          " listener (Prosody: component_ports)"),
    _rule(r"xmpp", r"conflict",
          "another process is already connected as this component JID",
          "stop the other process, or give every SAMTEK instance its own component JID"),
    _rule(r"xmpp", r"not-authorized|handshake|host-unknown|stream error",
          "the XMPP server refused the component's handshake",
          "[xmpp] component_secret and component_jid must match the server's Component"
          " definition"),
    _rule(r".", r"certificate verify failed|CERTIFICATE_VERIFY_FAILED|self.signed|unknown ca",
          "the server's TLS certificate is not trusted",
          "set ca_file (or the system CA store) to the CA that signed it; verification is"
          " never switched off"),
    _rule(r".", r"hostname mismatch|doesn't match|not valid for|host ?name",
          "the server's TLS certificate is for another host name",
          "use the host name the certificate names in the URL, or get a certificate for it"),
    _rule(r".", r"invalidCredentials|\b49\b.*bind|bind.*(refused|failed)",
          "the directory refused the bind: wrong bind DN or password",
          "check bind_dn and bind_password of the LDAP connector"),
    _rule(r".", r"\b(401|403)\b|unauthori[sz]ed|access ?denied|invalid_client|AADSTS",
          "the server refused SAMTEK's credentials",
          "check the connector's account, password, token or app registration (and its"
          " permissions)"),
    _rule(r".", r"\b429\b|throttl|too many requests",
          "the server throttles SAMTEK",
          "nothing to do at once: SAMTEK backs off as the server asks; if it persists, read"
          " fewer mailboxes per connector or raise its interval"),
    _rule(r".", r"\b404\b|not found",
          "the address was not found on the server",
          "check the calendar or feed address (the person's entry in the directory)"),
    _rule(r".", r"connection refused|cannot connect|name or service not known|unreachable",
          "the server does not answer",
          "check that it runs and that the connector's address and port are right"),
    _rule(r"store|leases|database", r".",
          "the database is not reachable or refused a write",
          "check [store] url, that PostgreSQL runs, and free disk space"),
)  # fmt: skip

_STANZA = re.compile(r"<(iq|message|presence)\b.*", re.S)
_CONDITION = re.compile(r"<([a-z-]+) xmlns=['\"]urn:ietf:params:xml:ns:xmpp-stanzas['\"]")


def advise(part: str, error: str) -> Advice | None:
    for rule in RULES:
        if rule.part.search(part) and rule.error.search(error):
            return rule.advice
    return None


def plain(error: str) -> str:
    """The error without raw XML: a stanza becomes its error condition."""
    stanza = _STANZA.search(error)
    if stanza is None:
        return error
    conditions = [c for c in _CONDITION.findall(stanza.group(0)) if c != "text"]
    head = error[: stanza.start()].rstrip(" :")
    said = f"the server answered {conditions[0]}" if conditions else "the server refused it"
    return f"{head}: {said}" if head else said
