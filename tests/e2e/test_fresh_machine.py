"""What a newcomer does first: `make help`, and a server on the embedded PostgreSQL with nothing configured."""

from __future__ import annotations

import asyncio
import re
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.services import ROOT
from tests.support.processes import ServerProcess

pytestmark = pytest.mark.e2e

REQUIRED_TARGETS = {
    "deps",
    "run",
    "test",
    "unit",
    "lint",
    "fmt",
    "typecheck",
    "migrate",
    "migration",
    "openapi",
    "ready",
    "hooks",
}


def test_make_help_is_the_default_and_lists_every_target() -> None:
    result = subprocess.run(
        ["make", "--no-print-directory"], cwd=ROOT, capture_output=True, text=True, timeout=30, check=True
    )
    listed = set(re.findall(r"^\s+(?:\x1b\[\d+m)?([a-z-]+)", result.stdout, re.MULTILINE))
    assert listed >= REQUIRED_TARGETS, result.stdout


async def test_with_no_database_url_the_server_starts_an_embedded_postgres_and_is_ready(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = ServerProcess({"DATA_DIR": str(data_dir)}, tmp_path / "server.log")
    try:
        await asyncio.to_thread(server.wait_ready, 60)
        async with httpx.AsyncClient(base_url=server.base_url) as client:
            assert (await client.get("/readyz")).json() == {"status": "ok"}
        assert (data_dir / "postgres" / "PG_VERSION").exists()
        assert f"Emporium listening on http://127.0.0.1:{server.port}" in server.output()
        assert str((data_dir / "postgres").resolve()) in server.output()
    finally:
        server.stop()
