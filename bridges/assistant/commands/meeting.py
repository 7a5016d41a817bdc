"""`møte <people…> <dag> kl <tid>[-<tid>] [varighet] [om <emne> | : <emne>]`: book a meeting.

Booked in the organiser's calendar.

Only a connector that implements `MeetingWriter` can book; for a read-only source (iCal
feeds) the answer says so plainly instead of pretending.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog

from bridges.assistant.commands.common import many_people, when_or_explain
from bridges.assistant.context import Ask, Deps
from bridges.assistant.reference import error_reference
from samtek.calendar import CalendarError, MeetingRequest

log = structlog.get_logger("samtek.assistant")


async def run(deps: Deps, ask: Ask) -> None:
    texts = ask.texts
    when = await when_or_explain(ask, ask.parsed.words)
    if when is None:
        return
    if not when.rest:
        await ask.reply(texts("usage_meeting"))
        return
    attendees = await many_people(deps, ask, when.rest, "usage_meeting")
    if attendees is None:
        return
    organiser = ask.asker
    if not organiser.calendars:
        await ask.reply(texts("meeting_no_calendar"))
        return
    source = organiser.calendars[0].source
    writer = deps.calendars.writer(source)
    if writer is None:
        await ask.reply(texts("meeting_read_only", source=source))
        return
    if when.at is None or when.part_of_day:  # "i morgen ettermiddag" is no meeting time
        await ask.reply(texts("meeting_need_time"))
        return
    day = when.day or ask.now.astimezone(texts.tz).date()
    start = datetime.combine(day, when.at, texts.tz)
    if start <= ask.now:
        await ask.reply(texts("meeting_in_past"))
        return
    if when.end is not None:  # "14-15"
        end = datetime.combine(day, when.end, texts.tz)
    else:
        end = start + (when.duration or timedelta(minutes=deps.settings.meeting_minutes))
    subject = ask.parsed.subject or texts("default_subject")
    others = tuple(p for p in attendees if p.id != organiser.id)
    request = MeetingRequest(organiser, others, subject, start, end)
    try:
        await writer.create_meeting(request)
    except CalendarError as exc:
        # The reason names servers and addresses: for the log, not for the chat.
        ref = error_reference()
        log.warning("meeting not booked", ref=ref, organiser=organiser.id, error=str(exc))
        await ask.reply(texts("meeting_failed", ref=ref))
        return
    await ask.reply(
        texts(
            "meeting_booked",
            subject=subject,
            day=texts.day(day),
            start=texts.clock(start),
            end=texts.clock(end),
            names=texts.both([p.name for p in others]),
        )
    )
