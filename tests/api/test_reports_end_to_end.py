"""The app with its dispatcher running and the reporting store on MariaDB: orders placed, paid, declined,
refunded, cancelled and shipped through the HTTP API show up in /v1/reports/sales as JSON and CSV; then
`emporium reporting status` and `emporium reporting rebuild --org` (the Typer commands, in-process: a process
start costs seconds on this machine, and `serve`'s own start-up is covered by the other e2e tests)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from emporium.bootstrap.app import create_app
from emporium.bootstrap.runtime import open_runtime
from emporium.cli import app as cli_app
from emporium.config import Config
from emporium.platform.db.engine import Database
from emporium.platform.db.migrate import upgrade
from tests.services import configured
from tests.support.catalog import make_product
from tests.support.databases import DatabaseServer
from tests.support.identity import METRICS_TOKEN, bearer, make_tenant
from tests.support.orders import key, order_body
from tests.support.reporting import mariadb_database


@pytest.fixture
async def fresh_database(database_server: DatabaseServer) -> AsyncIterator[str]:
    """A database of this test's own: the dispatcher must not take other tests' pending events."""
    name = f"emporium_reporting_e2e_{os.getpid()}"
    url = await database_server.create_database(name)
    await upgrade(url)
    yield url
    await database_server.drop_database(name)


@pytest.fixture
async def mariadb_url() -> AsyncIterator[str]:
    server = configured("TEST_MARIADB_URL")
    if server is None:
        pytest.skip("TEST_MARIADB_URL is not set (CI=true uses the MariaDB server at 127.0.0.1:3306)")
    async with mariadb_database(server) as url:
        yield url


def _cli(config: Config, *args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli_app, ["reporting", *args], obj=config)
    assert result.exit_code == 0, result.output
    answer: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return answer


async def _wait_for_sales(
    client: httpx.AsyncClient, url: str, wanted: dict[str, object], within: float = 30
) -> dict[str, Any]:
    """Poll the report until the dispatcher has carried every event into it (bounded)."""
    deadline = time.monotonic() + within
    row: dict[str, Any] = {}
    while time.monotonic() < deadline:
        rows = (await client.get(url)).json()["rows"]
        row = rows[0] if rows else {}
        if {k: row.get(k) for k in wanted} == wanted:
            return row
        await asyncio.sleep(0.05)
    raise AssertionError(f"the sales report did not reach {wanted}: {row}")


async def test_orders_through_the_api_reach_the_sales_report(
    config: Config, fresh_database: str, mariadb_url: str
) -> None:
    serving = replace(
        config,
        database_url=fresh_database,
        reporting_database_url=mariadb_url,
        events_dispatch=True,
        events_poll_interval=0.1,
    )
    db = Database(fresh_database)
    try:
        shop = await make_tenant(db, "E2E shop")
        product = await make_product(db, shop, price=2500, on_hand=20)
    finally:
        await db.dispose()
    sku = str(product["sku"])
    app = create_app(lambda: open_runtime(serving, fresh_database), serving)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        base = "http://emporium.test"
        async with httpx.AsyncClient(transport=transport, base_url=base, headers=bearer(shop.owner_key)) as client:

            async def place(quantity: int, token: str = "tok_success") -> httpx.Response:
                body = order_body((sku, quantity), token=token, shipping=400)
                return await client.post("/v1/orders", json=body, headers={"Idempotency-Key": key()})

            async def post(path: str, body: dict[str, Any] | None = None, **headers: str) -> httpx.Response:
                answer = await client.post(path, json=body, headers=headers)
                assert answer.status_code in {200, 201}, answer.text
                return answer

            refunded = (await place(2)).json()
            await post(f"/v1/orders/{refunded['id']}/refunds", {"amount": 500}, **{"Idempotency-Key": key()})
            await post(f"/v1/orders/{refunded['id']}/fulfill", {"carrier": "DHL", "tracking_number": "1Z1"})
            assert (await place(1, token="tok_decline")).status_code == 402
            cancelled = (await place(1)).json()
            await post(f"/v1/orders/{cancelled['id']}/cancel")
            shipped = (await place(1)).json()
            await post(f"/v1/orders/{shipped['id']}/fulfill", {"carrier": "UPS", "tracking_number": "2"})

            today = datetime.now(UTC).date().isoformat()
            url = f"/v1/reports/sales?from={today}&to={today}"
            gross = (2 * 2500 + 400) + 2 * (2500 + 400)  # three paid orders
            wanted = {
                "bucket": today,
                "currency": "EUR",
                "orders": 3,
                "units": 4,
                "gross_minor": gross,
                "refunds": 1,
                "refunded_minor": 500,
                "cancellations": 1,
                "cancelled_minor": 2900,
                "net_minor": gross - 500 - 2900,
                "shipped": 2,
            }
            row = await _wait_for_sales(client, url, wanted)
            assert row["average_order_minor"] == (gross * 2 + 3) // 6

            as_csv = await client.get(url, headers={"Accept": "text/csv"})
            assert as_csv.headers["content-type"].startswith("text/csv")
            [line] = list(csv.DictReader(io.StringIO(as_csv.text)))
            assert {k: line[k] for k in wanted} == {k: str(v) for k, v in wanted.items()}

            payments = (await client.get(f"/v1/reports/payments?from={today}&to={today}")).json()["rows"]
            assert [(p["authorized"], p["captured"], p["declined"], p["refunds"]) for p in payments] == [(3, 3, 1, 2)]
            metrics = await client.get("/metrics", headers=bearer(METRICS_TOKEN))
            assert "reporting_projection_lag_seconds" in metrics.text

            status = await asyncio.to_thread(_cli, serving, "status")  # asyncio.run needs a thread of its own
            assert status["store"] == "mysql" and status["applied_events"] >= 21 and status["lag_seconds"] >= 0
            rebuilt = await asyncio.to_thread(_cli, serving, "rebuild", "--org", shop.org_id)
            assert rebuilt["events"] == status["applied_events"]
            assert (await client.get(url)).json()["rows"] == [row]
