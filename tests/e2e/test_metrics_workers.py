"""/metrics is correct with several worker processes: every worker's samples are summed."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
import pytest

from tests.support.identity import METRICS_TOKEN, bearer
from tests.support.processes import ServerProcess

pytestmark = pytest.mark.e2e


def _livez_count(text: str) -> int:
    match = re.search(r'http_requests_total\{method="GET",route="/livez",status_class="2xx"\} (\d+(?:\.\d+)?)', text)
    return int(float(match.group(1))) if match else 0


async def test_counts_from_two_workers_add_up(database_url: str, tmp_path: Path) -> None:
    server = ServerProcess(
        {
            "DATABASE_URL": database_url,
            "WORKERS": "2",
            "DATA_DIR": str(tmp_path),
            "CRON_ENABLED": "false",
            "METRICS_TOKEN": METRICS_TOKEN,
        },
        tmp_path / "server.log",
    )
    try:
        await asyncio.to_thread(server.wait_ready)
        async with httpx.AsyncClient(base_url=server.base_url, headers=bearer(METRICS_TOKEN)) as client:
            baseline = _livez_count((await client.get("/metrics")).text)
            for _ in range(40):  # fresh connections spread over both workers
                async with httpx.AsyncClient(base_url=server.base_url) as fresh:
                    assert (await fresh.get("/livez")).status_code == 200
            scrapes = []
            for _ in range(6):
                async with httpx.AsyncClient(base_url=server.base_url, headers=bearer(METRICS_TOKEN)) as fresh:
                    scrapes.append(_livez_count((await fresh.get("/metrics")).text))
        assert all(count - baseline == 40 for count in scrapes), (baseline, scrapes)
        assert len(list((tmp_path / "metrics").glob("*.db"))) >= 2, "both workers wrote samples"
    finally:
        server.stop()
