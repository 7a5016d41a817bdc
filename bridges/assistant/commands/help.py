"""`hjelp` / `help`: what the assistant can do, in the asker's language."""

from __future__ import annotations

from bridges.assistant.context import Ask, Deps


async def run(deps: Deps, ask: Ask) -> None:
    await ask.reply(ask.texts("help"))
