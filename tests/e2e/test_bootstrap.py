"""Bootstrap: `emporium admin create-org` prints an owner key once; `make run` creates a demo org once."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.services import ROOT
from tests.support.identity import bearer
from tests.support.processes import ServerProcess

pytestmark = pytest.mark.e2e
KEY = re.compile(r"emp_live_[0-9A-Za-z]{46}")


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "emporium.main", *args],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "LOG_LEVEL": "warning", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_create_org_prints_a_working_owner_key_once(database_url: str, tmp_path: Path) -> None:
    result = _cli(
        "admin",
        "create-org",
        "--name",
        "Acme",
        "--owner-email",
        "boss@acme.example.com",
        env={"DATABASE_URL": database_url},
    )
    assert result.returncode == 0, result.stderr
    keys = KEY.findall(result.stdout + result.stderr)
    assert len(keys) == 1
    server = ServerProcess({"DATABASE_URL": database_url}, tmp_path / "server.log")
    try:
        await asyncio.to_thread(server.wait_ready)
        async with httpx.AsyncClient(base_url=server.base_url) as client:
            me = (await client.get("/v1/auth/whoami", headers=bearer(keys[0]))).json()
            assert me["role"] == "owner"
            org = (await client.get("/v1/orgs/me", headers=bearer(keys[0]))).json()
            assert org["name"] == "Acme"
    finally:
        server.stop()
    assert keys[0] not in server.output()


async def test_demo_org_is_created_and_printed_only_on_an_empty_database(tmp_path: Path) -> None:
    env = {"DATA_DIR": str(tmp_path / "data"), "DEMO_BOOTSTRAP": "true"}
    first = ServerProcess(env, tmp_path / "first.log")
    try:
        await asyncio.to_thread(first.wait_ready, 60)
        output = first.output()
        keys = sorted(set(KEY.findall(output)))  # the key line and the curl example
        assert len(keys) == 1
        assert "DEVELOPMENT ONLY" in output
        async with httpx.AsyncClient(base_url=first.base_url) as client:
            assert (await client.get("/v1/auth/whoami", headers=bearer(keys[0]))).status_code == 200
    finally:
        first.stop()
    second = ServerProcess(env, tmp_path / "second.log")
    try:
        await asyncio.to_thread(second.wait_ready, 60)
        assert KEY.findall(second.output()) == []
    finally:
        second.stop()
