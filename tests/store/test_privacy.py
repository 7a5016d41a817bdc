"""Personal data on disk: what the running service writes into its store, and how.

The whole service runs (`Service`, as `samtek run`), reading a real ICS file through the
iCal connector; the tests then read the store's files byte for byte.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from samtek.app import Service
from samtek.devserver.process import free_port
from samtek.store.files import StoreInUse
from tests.conftest import RunningService

# Daily from 2020: an occurrence falls into the presence window whatever today is.
PRIVATE = """BEGIN:VEVENT
UID:salary-talk
DTSTAMP:20200101T000000Z
DTSTART:20200101T080000Z
DTEND:20200101T083000Z
RRULE:FREQ=DAILY
CLASS:PRIVATE
SUMMARY:Lønnssamtale med Kari
LOCATION:HR-kontoret rom 412
DESCRIPTION:Oppsigelse vurderes
URL:https://meet.example/secret-room-9f3
END:VEVENT"""
CONFIDENTIAL = PRIVATE.replace("salary-talk", "medical").replace("PRIVATE", "CONFIDENTIAL")
CONFIDENTIAL = CONFIDENTIAL.replace("Lønnssamtale med Kari", "Legetime psykolog")
CONFIDENTIAL = CONFIDENTIAL.replace("T080000Z", "T100000Z").replace("T083000Z", "T103000Z")
PUBLIC = """BEGIN:VEVENT
UID:budget
DTSTAMP:20200101T000000Z
DTSTART:20200101T120000Z
DTEND:20200101T130000Z
RRULE:FREQ=DAILY
SUMMARY:Budsjettmøte
LOCATION:Moterom Fjellet
URL:https://meet.example/budget-room-77
END:VEVENT"""
# bob does not show his subjects: none of his is kept, private or not.
BOB = PUBLIC.replace("UID:budget", "UID:quarterly").replace("Budsjettmøte", "Kvartalsrapport")
# ASCII needles: JSON in the store may escape "ø".
SECRETS = ("nnssamtale", "HR-kontoret", "Oppsigelse", "secret-room-9f3", "Legetime")
# Not needed by presence, so not kept either: locations, links, subjects nobody is shown.
UNNEEDED = ("Moterom Fjellet", "budget-room-77", "Kvartalsrapport")


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The most permissive umask: file modes must not depend on it."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def write_feed(path: Path, *events: str) -> Path:
    path.write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//samtek tests//EN\r\n"
        + "\r\n".join(events).replace("\n", "\r\n")
        + "\r\nEND:VCALENDAR\r\n",
        encoding="utf-8",
    )
    return path


def write_region(tmp_path: Path) -> Path:
    feed = write_feed(tmp_path / "alice.ics", PRIVATE, CONFIDENTIAL, PUBLIC)
    bob_feed = write_feed(tmp_path / "bob.ics", BOB)
    secret = tmp_path / "component.secret"
    secret.write_text("not-used-no-xmpp-server")
    config = tmp_path / "samtek.toml"
    config.write_text(
        f"""
[xmpp]
domain = "region.test"
component_jid = "samtek.region.test"
component_secret = "file:{secret}"
port = {free_port()}

[store]
url = "sqlite:///{tmp_path}/var/state.db"

[http]
port = 0

[[municipalities]]
id = "kongsberg"
name = "Kongsberg kommune"
calendar = "feeds"

[connectors.feeds]
type = "ical"

[[people]]
id = "alice"
jid = "alice@region.test"
name = "Alice"
municipality = "kongsberg"
show_subject = true
calendars = [{{ address = "{feed}" }}]

[[people]]
id = "bob"
jid = "bob@region.test"
name = "Bob"
municipality = "kongsberg"
calendars = [{{ address = "{bob_feed}" }}]
""",
        encoding="utf-8",
    )
    return config


async def snapshot_saved(db: Path) -> None:
    """Until the service has stored both calendars (read next to it, as a tool would)."""
    for _ in range(200):
        if db.exists():
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
                try:
                    if len(conn.execute("SELECT 1 FROM calendar_snapshots").fetchall()) == 2:
                        return
                except sqlite3.OperationalError:
                    pass  # not migrated yet
        await asyncio.sleep(0.05)
    raise AssertionError("the service stored no calendar snapshot")


async def test_private_details_never_reach_the_store_and_files_are_owner_only(
    tmp_path: Path, samtek_service: type[RunningService], open_umask: None,
    capfd: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    service = samtek_service(write_region(tmp_path))
    await service.start()
    db = tmp_path / "var" / "state.db"
    await snapshot_saved(db)

    files = [db, *(db.with_name(db.name + s) for s in ("-wal", "-shm", ".lock"))]
    on_disk = b"".join(f.read_bytes() for f in files if f.exists())
    assert b"Budsjettm" in on_disk  # what presence needs is there...
    for secret in SECRETS:  # ...and no detail of a private or confidential meeting
        assert secret.encode() not in on_disk, secret
    for unneeded in UNNEEDED:
        assert unneeded.encode() not in on_disk, unneeded
    logged = capfd.readouterr()
    for secret in SECRETS:
        assert secret not in logged.out + logged.err, secret

    assert stat.S_IMODE((tmp_path / "var").stat().st_mode) == 0o700
    for file in files:
        assert file.exists(), file
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file

    # A second service on the same file is refused with a clear error, and the first one
    # is unharmed.
    second = Service(service.load())
    with pytest.raises(StoreInUse, match="in use by another SAMTEK service"):
        await asyncio.wait_for(second.run(), 10)
    await service.stop()


async def test_existing_world_readable_store_is_made_owner_only(
    tmp_path: Path, samtek_service: type[RunningService]
) -> None:
    """A store created by an older version (or by hand) with the umask's 0644."""
    config = write_region(tmp_path)
    (tmp_path / "var").mkdir()
    db = tmp_path / "var" / "state.db"
    sqlite3.connect(db).close()
    db.chmod(0o644)
    service = samtek_service(config)
    await service.start()
    await snapshot_saved(db)
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    await service.stop()
