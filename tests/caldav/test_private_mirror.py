"""The CalDAV mirror (kept in memory and in the store for incremental sync) holds no
details of private or confidential events, nor descriptions or alarms of any event; a
restart from that mirror still gives presence everything it needs. Real Radicale, real
SQLite store."""

from __future__ import annotations

import asyncio
from pathlib import Path

from samtek.model import Sensitivity
from samtek.store import open_store
from tests.caldav.conftest import WAIT, make_config, person, run_connector
from tests.servers.radicale import RadicaleServer, simple_event

# Daily from 2020: occurrences fall into the sync window whatever today is.
DAILY = "RRULE:FREQ=DAILY"
PRIVATE_EXTRA = "\r\n".join(
    (
        DAILY,
        "CLASS:PRIVATE",
        "LOCATION:HR-kontoret rom 412",
        "DESCRIPTION:Oppsigelse vurderes",
        "URL:https://meet.example/secret-room-9f3",
        "BEGIN:VALARM",
        "ACTION:DISPLAY",
        "DESCRIPTION:Husk lonnssamtale",
        "TRIGGER:-PT15M",
        "END:VALARM",
    )
)
PUBLIC_EXTRA = "\r\n".join((DAILY, "DESCRIPTION:Agenda: kutt i HR-budsjettet"))
SECRETS = (b"nnssamtale", b"HR-kontoret", b"Oppsigelse", b"secret-room-9f3", b"kutt i HR")


async def test_private_details_are_not_mirrored_and_restart_still_works(
    radicale: RadicaleServer, tmp_path: Path
) -> None:
    cal = await radicale.make_calendar("alice")
    await radicale.put_event(
        "alice",
        cal,
        "salary",
        simple_event(
            "salary", "20200101T080000", "20200101T083000", "Lønnssamtale", extra=PRIVATE_EXTRA
        ),
    )
    await radicale.put_event(
        "alice",
        cal,
        "budget",
        simple_event(
            "budget", "20200101T120000", "20200101T130000", "Budsjettmøte", extra=PUBLIC_EXTRA
        ),
    )
    db = tmp_path / "state.db"
    config = make_config(radicale)
    async with open_store(f"sqlite:///{db}") as store:
        async with run_connector(config, [person("alice", cal)], store) as run:  # type: ignore[arg-type]
            first = await run.next_update("alice")
            async with asyncio.timeout(WAIT):  # the mirror is saved after the sync
                while not await store.db.fetch(
                    "SELECT 1 FROM connector_state WHERE namespace LIKE 'caldav:%'"
                ):
                    await asyncio.sleep(0.05)
        saved = b"".join(
            f.read_bytes() for f in tmp_path.iterdir() if f.name.startswith("state.db")
        )
        assert b"budget" in saved and b"Budsjettm" in saved  # the mirror is there...
        for secret in SECRETS:  # ...without what presence does not need
            assert secret not in saved, secret

        # A restart works from the minimised mirror: same events, nothing downloaded again.
        async with run_connector(config, [person("alice", cal)], store) as run:  # type: ignore[arg-type]
            again = await run.next_update("alice")
            assert again.events == first.events
            assert run.connector.collection(cal).stats.fetched == 0
    private = [e for e in first.events if e.uid == "salary"]
    public = [e for e in first.events if e.uid == "budget"]
    assert private and public
    assert all(e.sensitivity is Sensitivity.PRIVATE and e.subject is None for e in private)
    assert all(e.subject == "Budsjettmøte" for e in public)
