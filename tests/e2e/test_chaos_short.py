"""The chaos harness, short: `bench/chaos.py` kills the server's process group three times under
checkout traffic, recovers, and checks the invariants (no oversell, no double charge, no lost order,
every paid order has its event). Only its verdict is asserted, never a timing."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.services import ROOT
from tests.support.databases import DatabaseServer

pytestmark = pytest.mark.e2e


def test_three_kills_under_checkout_traffic_keep_the_invariants(database_server: DatabaseServer) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.chaos", "--kills", "3", "--clients", "8", "--seed", "3",
         "--min-uptime", "0.3", "--max-uptime", "0.8"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "HOME": "/tmp", "DATABASE_URL": database_server.url},
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    report = done.stdout + done.stderr
    assert done.returncode == 0, report
    assert "PASS: 3 kills" in done.stdout, report
