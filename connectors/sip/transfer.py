"""Blind transfer of a call SAMTEK is not part of: REFER with Target-Dialog (RFC 4538).

The operator's phone and the caller's phone hold the dialog, and RFC 3515 wants the REFER
inside it, which only those phones can send. RFC 4538 lets a third party name the dialog in an
out-of-dialog REFER instead (Target-Dialog: call-id;local-tag=...;remote-tag=..., as the
operator's phone sees it, the tags from the RFC 4235 dialog-info). Phones rarely act on that
(baresip 1.0.0 answers 501), so the PBX does: the REFER goes to the operator's AOR through
the PBX, and a Kamailio route hands it to the dialog module, which sends the REFER inside the
call to the other party and ends the operator's leg (deploy/telephony.md).
Kamailio 5.6's dialog-info carries no tags although asked to (include_tags): then only the
Call-ID is sent and the route takes the tags from its own table of answered calls.
"""

from __future__ import annotations

import structlog

from connectors.sip.dialoginfo import Dialog
from connectors.sip.message import SipMessage, new_branch, new_token
from connectors.sip.transport import SipTransport, SipTransportError
from samtek.telephony import NotSupportedByPbx, TelephonyError

log = structlog.get_logger("samtek.sip.transfer")

# Answers meaning "nobody here does third-party transfer" rather than "this call failed".
_UNSUPPORTED = {403, 405, 420, 501}


async def refer_call(
    transport: SipTransport,
    contact: str,
    identity: str,
    domain: str,
    extension: str,
    dialog: Dialog,
    target: str,
) -> None:
    """Ask the PBX to move the other party of `extension`'s `dialog` to `target`."""
    aor = f"sip:{extension}@{domain}"
    msg = SipMessage(method="REFER", uri=aor)
    msg.add("Via", transport.via(new_branch()))
    msg.add("Max-Forwards", "70")
    msg.add("From", f"<{identity}>;tag={new_token(4)}")
    msg.add("To", f"<{aor}>")
    msg.add("Call-ID", new_token(12))
    msg.add("CSeq", "1 REFER")
    msg.add("Contact", contact)
    target_dialog = dialog.call_id
    if dialog.local_tag and dialog.remote_tag:
        target_dialog += f";local-tag={dialog.local_tag};remote-tag={dialog.remote_tag}"
    msg.add("Target-Dialog", target_dialog)
    msg.add("Refer-To", f"<sip:{target}@{domain}>")
    msg.add("Referred-By", f"<{identity}>")
    msg.add("Require", "tdialog")  # RFC 4538 §7: only act if Target-Dialog is understood
    try:
        resp = await transport.request(msg)
    except SipTransportError as exc:
        raise TelephonyError(f"transfer of {extension}'s call failed: {exc}") from exc
    status = resp.status or 0
    if 200 <= status < 300:
        log.info("sip transfer accepted", extension=extension, target=target, status=status)
        return
    if status == 481:
        raise TelephonyError(f"the call of {extension} has ended")
    if status in _UNSUPPORTED:
        raise NotSupportedByPbx(
            f"the PBX does not carry out transfers for SAMTEK ({status} {resp.reason}); "
            "it needs the transfer route of deploy/telephony.md"
        )
    raise TelephonyError(f"the PBX refused the transfer to {target}: {status} {resp.reason}")
