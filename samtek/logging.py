"""structlog setup: human-readable on a terminal, one JSON object per line otherwise."""

from __future__ import annotations

import logging
import sys

import structlog

from samtek.redact import RedactingFilter, structlog_processor


def configure_logging(level: str = "info", json: bool | None = None) -> None:
    json = (not sys.stderr.isatty()) if json is None else json
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    )
    logging.basicConfig(level=level.upper(), format="%(message)s", stream=sys.stderr, force=True)
    for handler in logging.getLogger().handlers:  # libraries log URLs and errors too
        handler.addFilter(RedactingFilter())
    # slixmpp is chatty at INFO about stream internals; its warnings still show.
    logging.getLogger("slixmpp").setLevel(logging.WARNING)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog_processor,  # last before rendering: a safety net for every secret
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )
