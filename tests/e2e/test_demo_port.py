"""`samtek demo` on a machine where another XMPP server holds port 5222: a clear message
and exit status 2, not a login that times out against the wrong server."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from samtek.demo import C2S_PORT, run_demo


def test_demo_refuses_a_taken_client_port(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other_server:
        other_server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        other_server.bind(("127.0.0.1", C2S_PORT))
        other_server.listen()
        assert run_demo(tmp_path / "demo") == 2
    assert f"port {C2S_PORT} on 127.0.0.1 is in use" in capsys.readouterr().err
    assert not (tmp_path / "demo").exists()  # nothing started, nothing written
