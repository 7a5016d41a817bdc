"""Click-to-call by third-party call control (RFC 3725 flow with REFER, RFC 3515).

INVITE A (SDP `a=inactive`: no media towards us) -> A answers -> ACK -> in-dialog REFER
to B -> A calls B and reports progress in NOTIFY (Event: refer, message/sipfrag) -> on a
final status we BYE our leg to A. Works with any phone that accepts in-dialog REFER (every
desk phone and baresip); out-of-dialog REFER is not used since many phones refuse it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import structlog

from connectors.sip.message import (
    SipMessage,
    ascii_int,
    new_branch,
    new_token,
    param,
    parse_name_addr,
)
from connectors.sip.transport import Address, SipTimeout, SipTransport, SipTransportError
from samtek.telephony import TelephonyError

log = structlog.get_logger("samtek.sip.c2c")


def inactive_sdp(host: str) -> bytes:
    session = int(time.time())
    return (
        f"v=0\r\no=samtek {session} {session} IN IP4 {host}\r\ns=SAMTEK click-to-call\r\n"
        f"c=IN IP4 {host}\r\nt=0 0\r\nm=audio 9 RTP/AVP 0 8\r\na=inactive\r\n"
    ).encode()


class ClickToCall:
    """One click-to-call attempt; incoming in-dialog requests are routed here by Call-ID."""

    def __init__(self, transport: SipTransport, contact: str, identity: str, domain: str) -> None:
        self.transport = transport
        self.contact = contact
        self.identity = identity  # our From name-addr without tag
        self.domain = domain
        self.call_id = new_token(12)
        self.from_tag = new_token(4)
        self.to_tag: str | None = None
        self.cseq = 0
        self.target = ""
        self.route_set: list[str] = []
        self._to = ""
        self.remote_ended = False
        self._refer_result: asyncio.Future[int] | None = None

    async def run(
        self, from_ext: str, to_ext: str, answer_timeout: float, transfer_timeout: float
    ) -> str:
        a_uri = f"sip:{from_ext}@{self.domain}"
        b_uri = f"sip:{to_ext}@{self.domain}"
        invite = self._request("INVITE", a_uri, to=f"<{a_uri}>")
        invite.set("From", f'"Call {to_ext}" <{self.identity}>;tag={self.from_tag}')
        invite.add("Content-Type", "application/sdp")
        invite.body = inactive_sdp(self.transport.local_address[0])
        try:
            resp = await self.transport.request(invite, final_within=answer_timeout)
            self.cseq = max(self.cseq, invite.cseq[0])  # an answered challenge raised it
        except SipTimeout as exc:
            await self._cancel(invite)
            raise TelephonyError(f"{from_ext} did not answer within {answer_timeout:g} s") from exc
        except SipTransportError as exc:
            raise TelephonyError(f"calling {from_ext} failed: {exc}") from exc
        status = resp.status or 0
        if status >= 300:
            raise TelephonyError(f"calling {from_ext} failed: {status} {resp.reason}")
        self._establish(resp)
        ack = self._request("ACK", self.target, cseq=invite.cseq[0])
        self.transport.send_ack(ack)
        loop = asyncio.get_running_loop()
        self._refer_result = loop.create_future()
        try:
            refer = self._request("REFER", self.target)
            refer.add("Refer-To", f"<{b_uri}>")
            refer.add("Referred-By", f"<{self.identity}>")
            try:
                refer_resp = await self._send(refer)
            except SipTransportError as exc:
                raise TelephonyError(f"transfer of {from_ext} to {to_ext} failed: {exc}") from exc
            if not 200 <= (refer_resp.status or 0) < 300:
                raise TelephonyError(
                    f"{from_ext}'s phone refused the transfer to {to_ext}: "
                    f"{refer_resp.status} {refer_resp.reason}"
                )
            try:
                final = await asyncio.wait_for(self._refer_result, transfer_timeout)
            except TimeoutError as exc:
                raise TelephonyError(
                    f"no answer from {to_ext} within {transfer_timeout:g} s of the transfer"
                ) from exc
            if not 200 <= final < 300:
                raise TelephonyError(f"{to_ext} could not be reached: {final}")
            log.info(
                "click-to-call connected", caller=from_ext, callee=to_ext, call_id=self.call_id
            )
            return self.call_id
        finally:
            await self._bye()

    async def _send(self, msg: SipMessage) -> SipMessage:
        resp = await self.transport.request(msg)
        self.cseq = max(self.cseq, msg.cseq[0])  # an answered challenge raised it
        return resp

    def _establish(self, resp: SipMessage) -> None:
        self.to_tag = param(resp.require("To"), "tag")
        contact = resp.get("Contact")
        if not contact:
            raise TelephonyError("2xx to INVITE without Contact")
        self.target = parse_name_addr(contact).uri
        self.route_set = list(reversed(resp.get_all("Record-Route")))
        self._to = resp.require("To")

    def _request(
        self, method: str, uri: str, to: str | None = None, cseq: int | None = None
    ) -> SipMessage:
        if cseq is None:
            self.cseq += 1
            cseq = self.cseq
        msg = SipMessage(method=method, uri=uri)
        msg.add("Via", self.transport.via(new_branch()))
        for route in self.route_set:
            msg.add("Route", route)
        msg.add("Max-Forwards", "70")
        msg.add("From", f"<{self.identity}>;tag={self.from_tag}")
        msg.add("To", to if to is not None else self._to)
        msg.add("Call-ID", self.call_id)
        msg.add("CSeq", f"{cseq} {method}")
        if method in ("INVITE", "REFER"):
            msg.add("Contact", self.contact)
        return msg

    async def _cancel(self, invite: SipMessage) -> None:
        cancel = SipMessage(method="CANCEL", uri=invite.uri)
        cancel.add("Via", invite.require("Via"))
        cancel.add("Max-Forwards", "70")
        cancel.add("From", invite.require("From"))
        cancel.add("To", invite.require("To"))
        cancel.add("Call-ID", invite.call_id)
        cancel.add("CSeq", f"{invite.cseq[0]} CANCEL")
        try:
            await self.transport.request(cancel)
        except SipTransportError as exc:
            log.warning("cancel of unanswered click-to-call failed", error=str(exc))

    async def _bye(self) -> None:
        if self.remote_ended or self.to_tag is None:
            return
        self.remote_ended = True
        try:
            resp = await self._send(self._request("BYE", self.target))
            log.debug("click-to-call leg ended", status=resp.status)
        except SipTransportError as exc:
            log.warning("BYE of click-to-call leg failed", call_id=self.call_id, error=str(exc))

    async def handle(self, msg: SipMessage, addr: Address) -> None:
        """An in-dialog request from the caller's phone (NOTIFY of the REFER, BYE)."""
        self.transport.respond(msg, addr, 200, "OK")
        if msg.method == "BYE":
            self.remote_ended = True
            if self._refer_result is not None and not self._refer_result.done():
                self._refer_result.set_exception(TelephonyError("the caller hung up"))
        elif msg.method == "NOTIFY" and (msg.get("Event") or "").lower().startswith("refer"):
            status = _sipfrag_status(msg.body)
            state = (msg.get("Subscription-State") or "").lower()
            final = status is not None and status >= 200
            if (final or state.startswith("terminated")) and self._refer_result is not None:
                with contextlib.suppress(asyncio.InvalidStateError):
                    self._refer_result.set_result(status or 0)


def _sipfrag_status(body: bytes) -> int | None:
    """Status code of a message/sipfrag body ("SIP/2.0 180 Ringing")."""
    first = body.split(b"\n", 1)[0].decode("utf-8", "replace").split()
    if len(first) >= 2 and first[0] == "SIP/2.0":
        return ascii_int(first[1], 3)
    return None
