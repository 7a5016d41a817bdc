"""An IQ reply counts only when it comes from the entity that was asked (RFC 6120 §8.2.3).

On a real Prosody: the component asks mallory; eve, who learned the request's id, answers
first with a result of her own. The component must wait for mallory's answer.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from xml.etree import ElementTree as ET

from slixmpp import ClientXMPP
from slixmpp.exceptions import IqError
from slixmpp.stanza import Iq
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

from samtek.devserver.prosody import ProsodyServer
from tests.rooms.helpers import connected_link, xmpp_section

NS = "urn:samtek:test:question"


async def login(prosody: ProsodyServer, user: str) -> ClientXMPP:
    xmpp = ClientXMPP(f"{prosody.jid(user)}/desk", "pw")
    xmpp.enable_plaintext = True  # loopback test server without TLS
    xmpp.plugin["feature_mechanisms"].unencrypted_plain = True
    started: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    xmpp.add_event_handler("session_start", lambda _: started.done() or started.set_result(None))
    xmpp.connect("127.0.0.1", prosody.c2s_port)
    await asyncio.wait_for(started, 10)
    return xmpp


async def test_a_reply_from_another_entity_with_the_same_id_is_ignored(
    prosody: ProsodyServer, tmp_path: Path
) -> None:
    for user in ("mallory", "eve"):
        prosody.add_user(user, "pw")
    await prosody.start()
    link, task = await connected_link(xmpp_section(prosody, tmp_path))
    mallory, eve = await login(prosody, "mallory"), await login(prosody, "eve")
    asked: asyncio.Queue[Iq] = asyncio.Queue()
    mallory.register_handler(
        Callback("question", MatchXPath(f"{{jabber:client}}iq/{{{NS}}}question"), asked.put_nowait)
    )
    try:
        request = asyncio.create_task(
            link.send_iq(str(mallory.boundjid), "get", ET.Element(f"{{{NS}}}question"))
        )
        question = await asyncio.wait_for(asked.get(), 10)
        # eve answers in mallory's place, with the id she learned.
        eve.make_iq(id=question["id"], ito=link.jid, itype="result").send()
        # The component answers eve's next request only after it has read her forgery.
        with contextlib.suppress(IqError):
            await eve.make_iq_get(queryxmlns="jabber:iq:version", ito=link.jid).send(timeout=10)
        assert not request.done(), "the component took eve's answer"
        answer = question.reply()
        answer.append(ET.Element(f"{{{NS}}}answer", who="mallory"))
        answer.send()
        result = await asyncio.wait_for(request, 10)
        assert result["from"] == mallory.boundjid
        assert result.xml.find(f"{{{NS}}}answer") is not None
    finally:
        for client in (mallory, eve):
            client.disconnect()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
