"""PostgreSQL restarted under a running server: 503 with Retry-After during the outage (never a 500,
never a hang), then normal answers again without restarting the application."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
import pytest

from emporium.platform.auth.api_keys import generate_api_key
from tests.support.identity import bearer
from tests.support.postgres_server import start_postgres, stop_postgres
from tests.support.processes import ServerProcess

pytestmark = pytest.mark.e2e
KEY = re.compile(r"emp_live_[0-9A-Za-z]{46}")


async def _until(
    client: httpx.AsyncClient, path: str, status: int, headers: dict[str, str] | None = None
) -> httpx.Response:
    for _ in range(300):
        response = await client.get(path, headers=headers)
        if response.status_code == status:
            return response
        await asyncio.sleep(0.1)  # polling for a state the server reaches on its own, bounded
    raise AssertionError(f"{path} never answered {status}")


async def test_requests_fail_fast_with_503_then_recover_without_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = ServerProcess(
        {"DATA_DIR": str(data), "DEMO_BOOTSTRAP": "true", "CRON_ENABLED": "false", "EVENTS_DISPATCH": "false"},
        tmp_path / "server.log",
    )
    pgdata = data / "postgres"
    try:
        await asyncio.to_thread(server.wait_ready, 60)
        key = KEY.findall(server.output())[0]
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
            assert (await client.get("/v1/orgs/me", headers=bearer(key))).status_code == 200

            await asyncio.to_thread(stop_postgres, pgdata)
            during = [await client.get("/v1/orgs/me", headers=bearer(key)) for _ in range(5)]
            assert all(r.status_code == 503 for r in during), [r.text for r in during]
            assert all(r.headers["content-type"] == "application/problem+json" for r in during)
            assert all("retry-after" in r.headers for r in during)
            unknown_key = await client.get("/v1/auth/whoami", headers=bearer(generate_api_key()))
            assert unknown_key.status_code == 503  # cannot say "unknown key" without the database: retry, not 401
            assert (await client.get("/readyz")).status_code == 503
            assert (await client.get("/livez")).status_code == 200  # alive, just not ready

            await asyncio.to_thread(start_postgres, pgdata)
            await _until(client, "/readyz", 200)
            after = await client.get("/v1/orgs/me", headers=bearer(key))
            assert after.status_code == 200, after.text
        assert "Traceback" not in server.output()
    finally:
        server.stop()
