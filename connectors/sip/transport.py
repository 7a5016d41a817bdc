"""A small asyncio SIP-over-UDP transport with client transactions (RFC 3261 §17).

All requests go to one next hop (the PBX, used as outbound proxy), which keeps routing
simple and is what every PBX deployment does for a trusted application server.
Datagrams are accepted only from trusted hosts (the next hop and `trusted`), checked before a
byte is parsed; others are dropped unanswered (an answer to a spoofed UDP source would be a
reflection). Nothing raised by a datagram reaches the event loop, and the log lines about
dropped datagrams are rate-limited (anyone can send them).
Retransmissions follow Timer A/E (T1 doubling, capped at T2 for non-INVITE); the overall
transaction timeout (Timer B/F, 32 s by default) is configurable so tests need not wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import structlog

from connectors.sip.digest import Credentials, DigestError, authorization, parse_challenge
from connectors.sip.message import (
    SipMessage,
    SipParseError,
    make_response,
    new_branch,
    new_token,
    parse,
)
from samtek.runtime.loglimit import LogLimiter

T1 = 0.5
T2 = 4.0
_RESPONSE_CACHE = 512  # answered requests remembered to re-answer their retransmissions
_ACK_CACHE = 128  # ACKs of 2xx remembered to re-ACK retransmitted 2xx (RFC 3261 §13.2.2.4)

log = structlog.get_logger("samtek.sip.transport")

Address = tuple[str, int]
RequestHandler = Callable[[SipMessage, Address], Awaitable[None]]


class SipTransportError(Exception):
    """A request could not be completed: no response in time, or the socket failed."""


class SipTimeout(SipTransportError):
    pass


@dataclass
class _ClientTransaction:
    request: SipMessage
    final: asyncio.Future[SipMessage]
    on_provisional: Callable[[SipMessage], None] | None
    got_response: bool = False


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, owner: SipTransport) -> None:
        self.owner = owner

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            self.owner._received(data, (addr[0], addr[1]))
        # The socket's boundary: a bug must not cost a traceback per packet. Logged, limited.
        except Exception:  # noqa: BLE001
            self.owner._drop("failed", addr, "sip datagram handling failed", exc_info=True)

    def error_received(self, exc: Exception) -> None:
        # ICMP errors (port unreachable) on UDP; transactions will time out on their own.
        log.debug("udp error", error=str(exc))


class SipTransport:
    def __init__(
        self,
        next_hop: Address,
        handler: RequestHandler,
        transaction_timeout: float = 64 * T1,
        user_agent: str = "SAMTEK",
        credentials: Credentials | None = None,
        trusted: Iterable[str] = (),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.next_hop = next_hop
        self.trusted = frozenset({next_hop[0], *trusted})
        self._log_limit = LogLimiter(monotonic=monotonic)
        self.credentials = credentials
        self.transaction_timeout = transaction_timeout
        self.user_agent = user_agent
        self._handler = handler
        self._udp: asyncio.DatagramTransport | None = None
        self._local: Address = ("0.0.0.0", 0)
        self._transactions: dict[tuple[str, str], _ClientTransaction] = {}
        self._responses: OrderedDict[tuple[str, str, str], bytes] = OrderedDict()
        self._acks: OrderedDict[tuple[str, int], SipMessage] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, bind_host: str, bind_port: int) -> None:
        loop = asyncio.get_running_loop()
        udp, _ = await loop.create_datagram_endpoint(
            lambda: _Protocol(self), local_addr=(bind_host, bind_port)
        )
        self._udp = udp
        sockname = udp.get_extra_info("sockname")
        self._local = (sockname[0], sockname[1])

    def close(self) -> None:
        for txn in self._transactions.values():
            if not txn.final.done():
                txn.final.set_exception(SipTransportError("transport closed"))
        self._transactions.clear()
        for task in self._tasks:
            task.cancel()
        if self._udp is not None:
            self._udp.close()
            self._udp = None

    @property
    def local_address(self) -> Address:
        return self._local

    def via(self, branch: str) -> str:
        host, port = self._local
        return f"SIP/2.0/UDP {host}:{port};branch={branch};rport"

    def _send(self, msg: SipMessage | bytes, addr: Address | None = None) -> None:
        if self._udp is None:
            raise SipTransportError("transport not started or closed")
        data = msg if isinstance(msg, bytes) else msg.encode()
        self._udp.sendto(data, addr or self.next_hop)

    async def request(
        self,
        msg: SipMessage,
        on_provisional: Callable[[SipMessage], None] | None = None,
        final_within: float | None = None,
    ) -> SipMessage:
        """Send a request (its Via must carry a fresh branch) and return the final response.

        For INVITE, `final_within` bounds the wait for a final response (how long a phone may
        ring); a non-2xx final response is ACKed here, a 2xx is left to the dialog layer.
        A 401/407 challenge is answered once if credentials are set: `msg` is then updated
        in place (new branch, CSeq + 1, credentials), so callers see what was really sent.
        """
        resp = await self._transaction(msg, on_provisional, final_within)
        if resp.status in (401, 407) and self.credentials is not None:
            header = "WWW-Authenticate" if resp.status == 401 else "Proxy-Authenticate"
            challenge = resp.get(header)
            if challenge is None:
                return resp
            try:
                answer = authorization(
                    parse_challenge(challenge), self.credentials, msg.method or "", msg.uri or ""
                )
            except DigestError as exc:
                raise SipTransportError(f"cannot answer {msg.method} challenge: {exc}") from exc
            number, method = msg.cseq
            msg.set("Via", self.via(new_branch()))
            msg.set("CSeq", f"{number + 1} {method}")
            msg.set("Authorization" if resp.status == 401 else "Proxy-Authorization", answer)
            resp = await self._transaction(msg, on_provisional, final_within)
        return resp

    async def _transaction(
        self,
        msg: SipMessage,
        on_provisional: Callable[[SipMessage], None] | None,
        final_within: float | None,
    ) -> SipMessage:
        branch = msg.top_branch
        if not branch:
            raise ValueError("request has no Via branch")
        method = msg.method or ""
        if msg.get("User-Agent") is None:
            msg.add("User-Agent", self.user_agent)
        key = (branch, method)
        loop = asyncio.get_running_loop()
        txn = _ClientTransaction(msg, loop.create_future(), on_provisional)
        self._transactions[key] = txn
        data = msg.encode()
        limit = final_within if final_within is not None else self.transaction_timeout
        try:
            async with asyncio.timeout(limit):
                interval = T1
                while True:
                    self._send(data)
                    done, _ = await asyncio.wait({txn.final}, timeout=interval)
                    if done:
                        break
                    if txn.got_response and method == "INVITE":
                        await txn.final  # proceeding: no more INVITE retransmissions
                        break
                    interval = interval * 2 if method == "INVITE" else min(interval * 2, T2)
                    if txn.got_response:
                        interval = T2
        except TimeoutError as exc:
            raise SipTimeout(
                f"no final response to {method} {msg.uri} from {self.next_hop[0]}:"
                f"{self.next_hop[1]} within {limit:g} s"
            ) from exc
        finally:
            self._transactions.pop(key, None)
        return txn.final.result()

    def send_ack(self, ack: SipMessage) -> None:
        """Send the ACK of a 2xx and remember it to answer 2xx retransmissions."""
        cseq, _ = ack.cseq
        self._acks[(ack.call_id, cseq)] = ack
        while len(self._acks) > _ACK_CACHE:
            self._acks.popitem(last=False)
        self._send(ack)

    def respond(self, request: SipMessage, addr: Address, status: int, reason: str) -> None:
        """Answer a received request; retransmissions of it get the same bytes again."""
        resp = make_response(request, status, reason, to_tag=new_token(4))
        data = resp.encode()
        self._responses[self._request_key(request)] = data
        while len(self._responses) > _RESPONSE_CACHE:
            self._responses.popitem(last=False)
        self._send(data, addr)

    @staticmethod
    def _request_key(request: SipMessage) -> tuple[str, str, str]:
        return (request.top_branch or "", request.method or "", request.call_id)

    def _received(self, data: bytes, addr: Address) -> None:
        if addr[0] not in self.trusted:
            event = "sip datagram from untrusted host dropped"
            self._drop("untrusted", addr, event, size=len(data))
            return
        if not data.strip():
            return  # keep-alive CRLF
        try:
            msg = parse(data)
            if msg.is_request:
                self._on_request(msg, addr)
            else:
                self._on_response(msg)
        except SipParseError as exc:
            self._drop("malformed", addr, "dropped malformed sip datagram", error=str(exc))

    def _drop(self, kind: str, addr: Address, event: str, **details: Any) -> None:
        left_out = self._log_limit.allow(kind)
        if left_out is not None:
            source = f"{addr[0]}:{addr[1]}"
            log.warning(event, source=source, suppressed=left_out, **details)

    def _on_request(self, msg: SipMessage, addr: Address) -> None:
        if msg.method == "ACK":
            return  # ACKs for our (non-INVITE-server) responses need no action
        cached = self._responses.get(self._request_key(msg))
        if cached is not None:
            self._send(cached, addr)
            return
        task = asyncio.get_running_loop().create_task(self._handle(msg, addr))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, msg: SipMessage, addr: Address) -> None:
        try:
            await self._handler(msg, addr)
        except Exception as exc:
            log.exception("request handler failed", request=msg.summary())
            with contextlib.suppress(SipTransportError):
                self.respond(msg, addr, 500, f"Server Internal Error ({type(exc).__name__})")

    def _on_response(self, msg: SipMessage) -> None:
        branch = msg.top_branch or ""
        _, method = msg.cseq
        txn = self._transactions.get((branch, method))
        status = msg.status or 0
        if txn is None:
            if method == "INVITE" and 200 <= status < 300:
                ack = self._acks.get((msg.call_id, msg.cseq[0]))
                if ack is not None:
                    self._send(ack)  # our ACK was lost: the UAS retransmits its 2xx
            return
        txn.got_response = True
        if status < 200:
            if txn.on_provisional is not None:
                txn.on_provisional(msg)
            return
        if method == "INVITE" and status >= 300:
            self._send(self._ack_for_failure(txn.request, msg))
        if not txn.final.done():
            txn.final.set_result(msg)

    @staticmethod
    def _ack_for_failure(invite: SipMessage, resp: SipMessage) -> SipMessage:
        # RFC 3261 §17.1.1.3: same branch, To from the response, same CSeq number.
        ack = SipMessage(method="ACK", uri=invite.uri)
        ack.add("Via", invite.require("Via"))
        for name in ("Route", "Max-Forwards"):
            for value in invite.get_all(name):
                ack.add(name, value)
        ack.add("From", invite.require("From"))
        ack.add("To", resp.require("To"))
        ack.add("Call-ID", invite.call_id)
        ack.add("CSeq", f"{invite.cseq[0]} ACK")
        return ack
