"""A loopback EWS SOAP server for tests: scripted mailboxes, request log, fault injection.

Routes on the SOAP body element (FindItem, GetUserAvailabilityRequest, ...), as EWS does.
Only what the SAMTEK EWS connector uses is implemented; anything else is answered with a
SOAP fault naming the operation, so a gap shows up as a clear error.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from aiohttp import web
from lxml import etree

from tests.fakes.ews import xml
from tests.fakes.ews.xml import SOAP, M, T
from tests.fakes.mailboxes import CreatedMeeting, Mailboxes

FOLDER_ID = "AAMkCalendarFolder"


@dataclass(frozen=True)
class LoggedRequest:
    operation: str
    mailboxes: tuple[str, ...]
    at: float
    status: int = 200


@dataclass
class Fault:
    """One scripted failure, consumed by the next matching request(s)."""

    kind: str  # busy | soap | unauthorized | slow | expired
    operation: str | None = None  # None: any operation
    count: int = 1
    back_off_ms: int = 200
    delay: float = 0.0
    code: str = "ErrorInternalServerError"
    mailbox: str | None = None  # None: any mailbox


@dataclass
class PullSubscription:
    mailbox: str
    seq: int  # last change sequence delivered (the watermark)
    expired: bool = False


@dataclass
class FakeEws:
    username: str = "svc-samtek"
    password: str = "secret"
    state: Mailboxes = field(default_factory=Mailboxes)
    log: list[LoggedRequest] = field(default_factory=list)
    faults: deque[Fault] = field(default_factory=deque)
    subscriptions: dict[str, PullSubscription] = field(default_factory=dict)
    url: str = ""
    _runner: web.AppRunner | None = None
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self) -> str:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/EWS/Exchange.asmx", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/EWS/Exchange.asmx"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- test controls ----------------------------------------------------------------------
    def inject(self, fault: Fault) -> None:
        self.faults.append(fault)

    def expire_subscriptions(self, mailbox: str | None = None) -> None:
        for sub in self.subscriptions.values():
            if mailbox is None or sub.mailbox == mailbox.lower():
                sub.expired = True

    def count(self, operation: str, status: int | None = 200) -> int:
        return sum(
            1
            for r in self.log
            if r.operation == operation and (status is None or r.status == status)
        )

    # -- dispatch ---------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        root = etree.fromstring(body)
        op_elem = root.find(f"{{{SOAP}}}Body")[0]
        op = etree.QName(op_elem).localname.removesuffix("Request")
        mailboxes = self._mailboxes_in(root, op_elem)
        if not self._authorised(request):
            self.log.append(LoggedRequest(op, mailboxes, time.monotonic(), 401))
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="ews"'})
        fault = self._take_fault(op, mailboxes)
        if fault is not None:
            if fault.kind == "slow":
                await asyncio.sleep(fault.delay)
            elif fault.kind == "unauthorized":
                self.log.append(LoggedRequest(op, mailboxes, time.monotonic(), 401))
                return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="ews"'})
            elif fault.kind == "busy":
                self.log.append(LoggedRequest(op, mailboxes, time.monotonic(), 500))
                text = "The server cannot service this request right now. Try again later."
                return self._xml(xml.soap_fault("ErrorServerBusy", text, fault.back_off_ms), 500)
            elif fault.kind == "soap":
                self.log.append(LoggedRequest(op, mailboxes, time.monotonic(), 500))
                return self._xml(xml.soap_fault(fault.code, "Injected fault"), 500)
        self.log.append(LoggedRequest(op, mailboxes, time.monotonic()))
        handler = getattr(self, f"_op_{op}", None)
        if handler is None:
            return self._xml(xml.soap_fault("ErrorInvalidOperation", f"fake lacks {op}"), 500)
        return self._xml(handler(op_elem, mailboxes[0] if mailboxes else None))

    def _authorised(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return user == self.username and password == self.password

    def _take_fault(self, op: str, mailboxes: tuple[str, ...]) -> Fault | None:
        for fault in self.faults:
            if fault.operation in (None, op) and fault.mailbox in (None, *mailboxes):
                fault.count -= 1
                if fault.count <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    @staticmethod
    def _mailboxes_in(root: etree._Element, op_elem: etree._Element) -> tuple[str, ...]:
        found = [
            e.text.lower()
            for e in root.iter(f"{{{T}}}PrimarySmtpAddress", f"{{{T}}}Address")
            if e.text
        ]
        if not found:  # no impersonation: take the folder's mailbox
            found = [e.text.lower() for e in op_elem.iter(f"{{{T}}}EmailAddress") if e.text][:1]
        return tuple(dict.fromkeys(found))

    @staticmethod
    def _xml(text: str, status: int = 200) -> web.Response:
        return web.Response(text=text, status=status, content_type="text/xml", charset="utf-8")

    # -- operations -------------------------------------------------------------------------
    def _op_FindItem(self, op_elem: etree._Element, mailbox: str | None) -> str:
        view = op_elem.find(f"{{{M}}}CalendarView")
        if view is None or mailbox is None:
            return xml.response(
                "FindItem",
                xml.error_message(
                    "FindItem", "ErrorInvalidOperation", "fake supports CalendarView only"
                ),
            )
        start = datetime.fromisoformat(view.get("StartDate").replace("Z", "+00:00"))
        end = datetime.fromisoformat(view.get("EndDate").replace("Z", "+00:00"))
        extended = [dict(e.attrib) for e in op_elem.iter(f"{{{T}}}ExtendedFieldURI")]
        asked = {e.get("FieldURI", "") for e in op_elem.iter(f"{{{T}}}FieldURI")}
        events = sorted(
            (e for e in self.state.box(mailbox).events.values() if e.start < end and e.end > start),
            key=lambda e: e.start,
        )
        raw = self.state.box(mailbox).raw_ews
        items = "".join(xml.calendar_item(e, extended, asked) for e in events) + "".join(raw)
        inner = (
            f'<m:RootFolder TotalItemsInView="{len(events) + len(raw)}"'
            ' IncludesLastItemInRange="true">'
            f"<t:Items>{items}</t:Items></m:RootFolder>"
        )
        return xml.response("FindItem", xml.ok_message("FindItem", inner))

    def _op_GetUserAvailability(self, op_elem: etree._Element, _mailbox: str | None) -> str:
        if len(list(op_elem.iter(f"{{{T}}}MailboxData"))) > 100:  # as Exchange does
            return xml.soap_fault(
                "ErrorMailboxDataArrayTooBig",
                "At most 100 mailboxes per GetUserAvailability request.",
            )
        window = op_elem.find(f".//{{{T}}}TimeWindow")
        start = datetime.fromisoformat(window.findtext(f"{{{T}}}StartTime")).replace(tzinfo=None)
        end = datetime.fromisoformat(window.findtext(f"{{{T}}}EndTime")).replace(tzinfo=None)
        result: list[xml.Blocks | None] = []
        for data in op_elem.iter(f"{{{T}}}MailboxData"):
            address = (data.findtext(f"{{{T}}}Email/{{{T}}}Address") or "").lower()
            box = self.state.boxes.get(address)
            if box is None:
                result.append(None)
                continue
            result.append(
                [
                    (e.start, e.end, e.busy)
                    for e in sorted(box.events.values(), key=lambda e: e.start)
                    if e.busy != "Free"
                    and e.start.replace(tzinfo=None) < end
                    and e.end.replace(tzinfo=None) > start
                ]
            )
        return xml.free_busy_response(result)

    def _op_GetUserOofSettings(self, op_elem: etree._Element, _mailbox: str | None) -> str:
        address = (op_elem.findtext(f".//{{{T}}}Address") or "").lower()
        return xml.oof_response(self.state.box(address).oof)

    def _op_Subscribe(self, op_elem: etree._Element, mailbox: str | None) -> str:
        if op_elem.find(f"{{{M}}}PullSubscriptionRequest") is None or mailbox is None:
            return xml.response(
                "Subscribe",
                xml.error_message(
                    "Subscribe", "ErrorInvalidSubscriptionRequest", "fake supports pull only"
                ),
            )
        sub_id = f"sub{next(self._ids)}"
        self.subscriptions[sub_id] = PullSubscription(mailbox, self.state.last_seq)
        inner = (
            f"<m:SubscriptionId>{sub_id}</m:SubscriptionId>"
            f"<m:Watermark>{self.state.last_seq}</m:Watermark>"
        )
        return xml.response("Subscribe", xml.ok_message("Subscribe", inner))

    def _op_Unsubscribe(self, op_elem: etree._Element, _mailbox: str | None) -> str:
        self.subscriptions.pop(op_elem.findtext(f"{{{M}}}SubscriptionId") or "", None)
        return xml.response("Unsubscribe", xml.ok_message("Unsubscribe"))

    def _op_GetEvents(self, op_elem: etree._Element, _mailbox: str | None) -> str:
        sub_id = op_elem.findtext(f"{{{M}}}SubscriptionId") or ""
        watermark = op_elem.findtext(f"{{{M}}}Watermark") or "0"
        sub = self.subscriptions.get(sub_id)
        if sub is None:
            return xml.response(
                "GetEvents",
                xml.error_message(
                    "GetEvents", "ErrorSubscriptionNotFound", "The subscription was not found."
                ),
            )
        if sub.expired:
            return xml.response(
                "GetEvents",
                xml.error_message(
                    "GetEvents", "ErrorExpiredSubscription", "The subscription has expired."
                ),
            )
        changes = self.state.changes_since(sub.mailbox, int(watermark))
        tag = {"created": "CreatedEvent", "modified": "ModifiedEvent", "deleted": "DeletedEvent"}
        body = "".join(
            f"<t:{tag[c.kind]}><t:Watermark>{c.seq}</t:Watermark>"
            f"<t:TimeStamp>{xml.iso(datetime.now().astimezone())}</t:TimeStamp>"
            f'<t:ItemId Id="{c.item_id}" ChangeKey="ck"/>'
            f'<t:ParentFolderId Id="{FOLDER_ID}" ChangeKey="fk"/></t:{tag[c.kind]}>'
            for c in changes
        )
        if not changes:
            mark = self.state.last_seq
            body = f"<t:StatusEvent><t:Watermark>{mark}</t:Watermark></t:StatusEvent>"
        sub.seq = max([sub.seq, *(c.seq for c in changes)])
        inner = (
            f"<m:Notification><t:SubscriptionId>{sub_id}</t:SubscriptionId>"
            f"<t:PreviousWatermark>{watermark}</t:PreviousWatermark>"
            f"<t:MoreEvents>false</t:MoreEvents>{body}</m:Notification>"
        )
        return xml.response("GetEvents", xml.ok_message("GetEvents", inner))

    def _op_CreateItem(self, op_elem: etree._Element, mailbox: str | None) -> str:
        item = op_elem.find(f".//{{{T}}}CalendarItem")
        if item is None or mailbox is None:
            return xml.response(
                "CreateItem",
                xml.error_message(
                    "CreateItem", "ErrorInvalidOperation", "fake creates calendar items only"
                ),
            )
        attendees = tuple(
            (e.text or "").lower()
            for e in item.iter(f"{{{T}}}EmailAddress")
            if e.getparent() is not None
            and e.getparent().getparent() is not None
            and etree.QName(e.getparent().getparent()).localname == "Attendee"
        )
        start = datetime.fromisoformat(item.findtext(f"{{{T}}}Start").replace("Z", "+00:00"))
        end = datetime.fromisoformat(item.findtext(f"{{{T}}}End").replace("Z", "+00:00"))
        subject = item.findtext(f"{{{T}}}Subject") or ""
        location = item.findtext(f"{{{T}}}Location")
        self.state.created.append(
            CreatedMeeting(
                mailbox,
                subject,
                start,
                end,
                attendees,
                location,
                op_elem.get("SendMeetingInvitations"),
            )
        )
        uid = item.findtext(f"{{{T}}}UID")
        online = next(
            (
                prop.findtext(f"{{{T}}}Value")
                for prop in item.iter(f"{{{T}}}ExtendedProperty")
                if prop.find(f"{{{T}}}ExtendedFieldURI").get("PropertyId") in ("33352", "0x8248")
            ),
            None,
        )
        event = self.state.add_event(
            mailbox,
            subject,
            start,
            end,
            location=location,
            online_meeting_url=online,
            **({"uid": uid} if uid else {}),
        )
        inner = (
            f'<m:Items><t:CalendarItem><t:ItemId Id="{event.item_id}"'
            f' ChangeKey="{event.change_key}"/>'
            "</t:CalendarItem></m:Items>"
        )
        return xml.response("CreateItem", xml.ok_message("CreateItem", inner))
