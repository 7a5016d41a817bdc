"""Logging setup: human-readable on a terminal, one JSON object per line otherwise.

structlog and the libraries' stdlib loggers (slixmpp, aiohttp, asyncio) share one handler, so
every record is written by one `write` under one lock: a line from a library thread can never
land inside one of ours, and every line has the same shape, timestamp and redaction.
"""

from __future__ import annotations

import logging
import sys

import structlog

from samtek.redact import structlog_processor

# Libraries that log internals (and, at DEBUG, the data passing through) on their own loggers.
_QUIET = {
    "slixmpp": logging.WARNING,  # stream internals at INFO
    "aiosqlite": logging.WARNING,  # every SQL call with its parameters (people's events) at DEBUG
}


def configure_logging(level: str = "info", json: bool | None = None) -> None:
    json = (not sys.stderr.isatty()) if json is None else json
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    )
    stamped: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*stamped, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog_processor,  # last before rendering: the safety net for every secret
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name, quiet in _QUIET.items():
        logging.getLogger(name).setLevel(quiet)
    structlog.configure(
        processors=[
            *stamped,
            structlog.processors.format_exc_info,  # while the exception is still current
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )
