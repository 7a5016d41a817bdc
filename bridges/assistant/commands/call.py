"""`ring <person>` / `call <person>`: click-to-call through a telephony connector.

The asker's phone rings first; `originate` returns when the call is connected (or raises),
so the asker is told at once and again only if it fails. The wait runs in the background:
a phone ringing for half a minute must not hold a command worker.
"""

from __future__ import annotations

import structlog

from bridges.assistant.commands.common import one_person
from bridges.assistant.context import Ask, Deps
from bridges.assistant.reference import error_reference
from samtek.telephony import Telephony, TelephonyError

log = structlog.get_logger("samtek.assistant")


async def run(deps: Deps, ask: Ask) -> None:
    texts = ask.texts
    person = await one_person(deps, ask, ask.parsed.words, "usage_call")
    if person is None:
        return
    telephony = next((c for c in deps.connectors.values() if isinstance(c, Telephony)), None)
    if telephony is None:
        await ask.reply(texts("call_unavailable"))
        return
    if not ask.asker.phones:
        await ask.reply(texts("call_no_own_phone"))
        return
    if not person.phones:
        await ask.reply(texts("call_no_phone", name=person.name))
        return
    from_ext, to_ext = ask.asker.phones[0], person.phones[0]

    async def connect() -> None:
        try:
            await telephony.originate(from_ext, to_ext)
        except TelephonyError as exc:
            # The reason names the PBX and its answer: for the log, not for the chat.
            ref = error_reference()
            log.warning("call not set up", ref=ref, asker=ask.asker.id, error=str(exc))
            await ask.reply(texts("call_failed", name=person.name, ref=ref))

    await ask.reply(texts("call_started", from_ext=from_ext, to_ext=to_ext, name=person.name))
    deps.background.spawn(connect(), name=f"call {from_ext}->{to_ext}")
