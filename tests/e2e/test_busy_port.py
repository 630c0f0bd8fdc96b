"""A second `serve` on a port already in use exits 2 with one line, instead of sharing the port silently."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from tests.services import ROOT

pytestmark = pytest.mark.e2e


def test_serve_on_a_busy_port_exits_2_with_one_line() -> None:
    with socket.socket() as first:
        # What Granian does: SO_REUSEPORT, which would let a second server bind the same port and share it.
        first.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        first.bind(("127.0.0.1", 0))
        first.listen()
        port = first.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "emporium.main", "serve"],
            cwd=ROOT,
            env={"PATH": "/usr/bin:/bin", "PORT": str(port), "DATABASE_URL": "postgresql://unused@127.0.0.1:1/x"},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"127.0.0.1:{port} is already in use" in lines[0], result.stderr
