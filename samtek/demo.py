"""`samtek demo`: a small region on this machine, to watch calendar presence in a real client.

Starts a throw-away Prosody (or, with `--server ejabberd`, an ejabberd), with the SAMTEK
modules, on 127.0.0.1:5222, seeds two
municipalities with five people and ICS calendars whose meetings begin within minutes, writes
a normal config file, and runs the service on it (SQLite store in the demo directory).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
import sys
from datetime import datetime, timedelta
from pathlib import Path

from slixmpp import ClientXMPP

from samtek.app import Service
from samtek.clock import SYSTEM_CLOCK, Clock
from samtek.config import load_config
from samtek.devserver.ejabberd import EjabberdServer
from samtek.devserver.process import free_port, port_open
from samtek.devserver.prosody import ProsodyServer
from samtek.logging import configure_logging
from samtek.plugin import discover_connectors

PASSWORD = "demo"
C2S_PORT = 5222  # the XMPP client port, so that any client finds the demo by default
XmppServer = ProsodyServer | EjabberdServer
# (id, name, municipality, language, meetings as (minutes from now, length, subject, private))
PEOPLE: list[tuple[str, str, str, str, list[tuple[int, int, str, bool]]]] = [
    ("kari", "Kari Nordmann", "kongsberg", "nb", [(1, 3, "Budsjettmøte", False)]),
    (
        "ola",
        "Ola Hansen",
        "kongsberg",
        "nb",
        [(2, 2, "Lønnssamtale", True), (4, 3, "IKT-drift", False)],
    ),
    ("ingrid", "Ingrid Bakken", "notodden", "nn", [(3, 5, "Formannskapet", False)]),
    ("lars", "Lars Berg", "notodden", "en", [(5, 10, "Vendor call", False)]),
    ("you", "Demo User", "kongsberg", "nb", []),
]


def run_demo(directory: Path, server: str = "prosody") -> int:
    if port_open(C2S_PORT):
        # Another XMPP server (often a system Prosody) would answer the demo's logins.
        print(
            f"samtek demo: port {C2S_PORT} on 127.0.0.1 is in use (another XMPP server?): "
            "stop it first, e.g. `systemctl stop prosody`",
            file=sys.stderr,
        )
        return 2
    configure_logging("info")
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how the demo ends
        asyncio.run(_demo(directory.resolve(), server))
    return 0


async def _demo(directory: Path, server: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    prosody: XmppServer = (
        EjabberdServer(c2s_port=C2S_PORT, oof=True)
        if server == "ejabberd"
        else ProsodyServer(c2s_port=C2S_PORT, oof=True)
    )
    for pid, _name, *_ in PEOPLE:
        prosody.add_user(pid, PASSWORD)
    for pid, *_ in PEOPLE:
        for other, other_name, *_ in PEOPLE:
            if other != pid:
                prosody.add_contact(pid, prosody.jid(other), name=other_name)
    await prosody.start()
    try:
        config_path = _write_region(directory, prosody, SYSTEM_CLOCK, free_port(), free_port())
        service = Service(load_config(config_path, discover_connectors()), clock=SYSTEM_CLOCK)
        ready = asyncio.Event()
        task = asyncio.create_task(service.run(ready))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        await ready.wait()
        await service.web.wait_started()
        for pid, *_ in PEOPLE[:-1]:
            await _log_in(prosody, pid)
        print(_instructions(prosody, config_path, service.web.admin_url), flush=True)
        with contextlib.suppress(asyncio.CancelledError):
            await task
    finally:
        await prosody.stop()
        prosody.cleanup()


async def _log_in(prosody: XmppServer, user: str) -> ClientXMPP:
    """A headless client per demo person, so contacts see them online as in real life."""
    client = ClientXMPP(prosody.jid(user), PASSWORD)
    client.enable_plaintext = True  # loopback demo server without TLS certificates
    client.plugin["feature_mechanisms"].unencrypted_plain = True
    started = asyncio.Event()

    def on_start(_: object) -> None:
        client.send_presence(pstatus="Tilgjengelig")
        started.set()

    client.add_event_handler("session_start", on_start)
    client.connect("127.0.0.1", prosody.c2s_port)
    await asyncio.wait_for(started.wait(), 10)
    return client


def _write_region(
    directory: Path, prosody: XmppServer, clock: Clock, http_port: int, admin_port: int
) -> Path:
    feeds = directory / "calendars"
    feeds.mkdir(exist_ok=True)
    now = clock.now().replace(second=0, microsecond=0) + timedelta(minutes=1)
    people_toml = ""
    for pid, name, municipality, language, meetings in PEOPLE:
        events = "".join(
            _vevent(f"{pid}-{i}", now + timedelta(minutes=start - 1), minutes, subject, private)
            for i, (start, minutes, subject, private) in enumerate(meetings)
        )
        head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//SAMTEK demo//NO\r\n"
        (feeds / f"{pid}.ics").write_text(f"{head}{events}END:VCALENDAR\r\n")
        people_toml += (
            f'\n[[people]]\nid = "{pid}"\njid = "{prosody.jid(pid)}"\nname = "{name}"\n'
            f'municipality = "{municipality}"\nlanguage = "{language}"\nshow_subject = true\n'
            f'calendars = [{{ address = "{feeds / (pid + ".ics")}" }}]\n'
        )
    secret = directory / "component.secret"
    secret.write_text(prosody.component_secret)
    secret.chmod(0o600)
    token = directory / "admin.token"
    if not token.exists():
        token.write_text(secrets.token_urlsafe(24))
    token.chmod(0o600)
    path = directory / "samtek.toml"
    path.write_text(
        f"""# Written by `samtek demo`. Edit the ICS files in {feeds}: changes apply at once.
[service]
name = "demo"

[xmpp]
domain = "{prosody.domain}"
component_jid = "{prosody.component_jid}"
component_secret = "file:{secret}"
port = {prosody.component_port}

[store]
url = "sqlite:///{directory / "state.db"}"

[http]                          # loopback only: the status page needs no token in the demo
host = "127.0.0.1"
port = {http_port}
admin_port = {admin_port}

[admin]
public_status = true
tokens = [{{ name = "demo", token = "file:{token}", role = "admin" }}]

[[municipalities]]
id = "kongsberg"
name = "Kongsberg kommune"
calendar = "local-ics"

[[municipalities]]
id = "notodden"
name = "Notodden kommune"
language = "nn"
calendar = "local-ics"

[connectors.local-ics]
type = "ical"
{people_toml}"""
    )
    return path


def _vevent(uid: str, start: datetime, minutes: int, subject: str, private: bool) -> str:
    def stamp(t: datetime) -> str:
        return t.strftime("%Y%m%dT%H%M%SZ")

    return (
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:{stamp(start)}\r\nDTSTART:{stamp(start)}\r\n"
        f"DTEND:{stamp(start + timedelta(minutes=minutes))}\r\nSUMMARY:{subject}\r\n"
        f"CLASS:{'PRIVATE' if private else 'PUBLIC'}\r\nEND:VEVENT\r\n"
    )


def _instructions(prosody: XmppServer, config: Path, web: str) -> str:
    return f"""
SAMTEK demo is running.
  Log in with any XMPP client (Gajim, Dino, Conversations, Psi+ ...):
    account  you@{prosody.domain}   password  {PASSWORD}
    server   127.0.0.1  port {prosody.c2s_port}  (no TLS: allow plain-text login)
  Your contacts kari, ola, ingrid and lars are online (headless clients) and have meetings
  starting in 1-5 minutes: watch their status turn to "I møte til …" (dnd) exactly at the
  start and back to "Tilgjengelig" at the end, in their own language (ingrid: nynorsk, lars:
  English). ola's first meeting is private: its subject is never shown.
  Status page: {web}/admin/status   (admin API token: {config.parent / "admin.token"})
  Config: {config}   Stop: Ctrl-C
"""
