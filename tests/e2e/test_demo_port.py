"""`samtek demo` on a machine where another XMPP server holds port 5222: a clear message
and exit status 2, not a login that times out against the wrong server."""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path

import pytest

from samtek.demo import C2S_PORT, run_demo
from samtek.devserver.process import port_open


def test_demo_refuses_a_taken_client_port(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with contextlib.ExitStack() as stack:
        if not port_open(C2S_PORT):  # else another server holds it already: the same case
            other_server = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            other_server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            other_server.bind(("127.0.0.1", C2S_PORT))
            other_server.listen()
        assert run_demo(tmp_path / "demo") == 2
    assert f"port {C2S_PORT} on 127.0.0.1 is in use" in capsys.readouterr().err
    assert not (tmp_path / "demo").exists()  # nothing started, nothing written
