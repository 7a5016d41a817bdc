"""`samtek` command line: run, check-config, presence explain, rooms, audit, demo, version."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from samtek import __version__
from samtek.config import Config, ConfigError, load_config
from samtek.logging import configure_logging
from samtek.plugin import discover_connectors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="samtek", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the service")
    run.add_argument("--config", type=Path, required=True)
    check = commands.add_parser("check-config", help="validate a config file and exit")
    check.add_argument("path", type=Path)
    presence = commands.add_parser("presence", help="presence tools")
    presence_commands = presence.add_subparsers(dest="presence_command", required=True)
    explain = presence_commands.add_parser("explain", help="which claims are active and why")
    explain.add_argument("person", help="person id or JID")
    explain.add_argument("--config", type=Path, required=True)
    rooms = commands.add_parser("rooms", help="project rooms: plan or apply the room specs")
    rooms.add_argument("rooms_command", choices=["plan", "apply", "feeds"])
    rooms.add_argument("--config", type=Path, required=True)
    audit = commands.add_parser("audit", help="show the admin audit log, newest first")
    audit.add_argument("--config", type=Path, required=True)
    audit.add_argument("--since", help="ISO 8601 time (UTC without an offset)")
    audit.add_argument("--actor", help="only this token name")
    audit.add_argument("--limit", type=int, default=100)
    audit.add_argument("--json", action="store_true", help="one JSON object per line")
    demo = commands.add_parser("demo", help="run a local demo region (Prosody + ICS files)")
    demo.add_argument("--dir", type=Path, default=Path("demo-data"))
    demo.add_argument("--server", choices=["prosody", "ejabberd"], default="prosody")
    commands.add_parser("version", help="print the version")
    args = parser.parse_args(argv)

    if args.command == "version":
        print(__version__)
        return 0
    if args.command == "demo":
        from samtek.demo import run_demo

        return run_demo(args.dir, args.server)
    path = args.path if args.command == "check-config" else args.config
    try:
        config = load_config(path, discover_connectors())
    except ConfigError as exc:
        print(f"{exc.path}: {len(exc.errors)} error(s)", file=sys.stderr)
        for error in exc.errors:
            print(f"{exc.path}: {error}", file=sys.stderr)
        return 2
    if args.command == "check-config":
        print(f"{path}: OK ({len(config.people)} people, {len(config.connectors)} connectors)")
        return 0
    if args.command == "presence":
        from samtek.explain import explain_offline

        print(asyncio.run(explain_offline(config, args.person)))
        return 0
    if args.command == "audit":
        from samtek.admin.audit_cli import audit_command, parse_since

        try:
            since = parse_since(args.since)
        except ValueError:
            print(f"--since: not an ISO 8601 time: {args.since!r}", file=sys.stderr)
            return 2
        print(asyncio.run(audit_command(config, since, args.actor, args.limit, args.json)))
        return 0
    configure_logging(config.file.service.log_level)
    if args.command == "rooms":
        from bridges.rooms.cli import feeds_command, rooms_command

        if args.rooms_command == "feeds":
            return asyncio.run(feeds_command(config))
        return asyncio.run(rooms_command(config, apply=args.rooms_command == "apply"))
    return asyncio.run(_run(config))


async def _run(config: Config) -> int:
    from samtek.app import Service
    from samtek.store.files import StoreInUse

    service = Service(config)
    task = asyncio.create_task(service.run())
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        return 0
    except StoreInUse as exc:
        print(f"samtek: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
