"""A short reference that ties a failure the user was told about to its details in the log.

Users never see internal error text (server bodies, PBX addresses); they get a reference
to quote to the helpdesk, which finds the full reason in the log under `ref`.
"""

from __future__ import annotations

import secrets


def error_reference() -> str:
    """Eight hex digits: unique enough to find one log line, short enough to read aloud."""
    return secrets.token_hex(4)
