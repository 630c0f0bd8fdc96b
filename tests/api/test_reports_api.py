"""GET /v1/reports/{sales,products,payments}: JSON and CSV, the caller's org only, strict parameters; the same
answers with the reporting store on MariaDB (REPORTING_DATABASE_URL)."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from emporium.bootstrap.app import create_app
from emporium.bootstrap.runtime import open_runtime
from emporium.config import Config
from emporium.modules.identity import workflows as identity
from emporium.modules.identity.domain import Role
from emporium.platform.db.engine import Database
from tests.services import configured
from tests.support.identity import Tenant, bearer, make_tenant, setup_audit
from tests.support.reporting import (
    History,
    OrderStory,
    build_history,
    deliver,
    expected_payments,
    expected_products,
    expected_sales,
    mariadb_database,
    open_store,
)

RANGE = "from=2026-01-01&to=2026-06-30"


def _stories() -> list[OrderStory]:
    outcomes = ["paid", "paid", "declined", "paid", "failed", "pending"]
    return [
        OrderStory(
            0,
            ["EUR", "USD"][i % 2],
            (("SKU-A", 1 + i % 2, 1000 + i), ("=SUM(A1)", 1, 5)),
            300,
            outcomes[i % len(outcomes)],
            i % 3 != 1,
            (400,) if i % 2 else (),
            i % 5 == 3,
            i % 2 == 0,
            3000 * i,
            500,
        )
        for i in range(14)
    ]


@pytest.fixture(scope="module")
async def shop(db: Database) -> Tenant:
    return await make_tenant(db, "Reports shop")


@pytest.fixture(scope="module")
async def history(shop: Tenant, database_url: str) -> History:
    """The shop's orders, applied to the default reporting store (the main PostgreSQL)."""
    story = build_history(_stories(), orgs=[shop.org_id])
    store = open_store(database_url)
    try:
        await deliver(store, story.delivered(random.Random(3)))
    finally:
        await store.dispose()
    return story


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _as_text(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [{k: str(v) for k, v in row.items()} for row in rows]


async def test_sales_as_json_and_as_csv(app_client: httpx.AsyncClient, shop: Tenant, history: History) -> None:
    expected = expected_sales(history, shop.org_id, "week")
    assert expected, "the history has sales"
    url = f"/v1/reports/sales?{RANGE}&granularity=week"
    answer = await app_client.get(url, headers=bearer(shop.owner_key))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert (body["from"], body["to"], body["granularity"]) == ("2026-01-01", "2026-06-30", "week")
    assert body["rows"] == expected

    as_csv = await app_client.get(url, headers={**bearer(shop.owner_key), "Accept": "text/csv"})
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.text.splitlines()[0].startswith("bucket,currency,orders,units,gross_minor")
    assert _csv(as_csv.text) == _as_text(expected)


async def test_products_and_payments(app_client: httpx.AsyncClient, shop: Tenant, history: History) -> None:
    headers = bearer(shop.owner_key)
    products = await app_client.get(f"/v1/reports/products?{RANGE}&sort=units&limit=2", headers=headers)
    assert products.status_code == 200
    assert products.json()["rows"] == expected_products(history, shop.org_id, "units", 2)
    payments = await app_client.get(f"/v1/reports/payments?{RANGE}&granularity=month&currency=EUR", headers=headers)
    assert payments.json()["rows"] == [
        r for r in expected_payments(history, shop.org_id, "month") if r["currency"] == "EUR"
    ]
    # A product named like a formula is quoted in CSV, so a spreadsheet shows it instead of running it.
    as_csv = await app_client.get(f"/v1/reports/products?{RANGE}", headers={**headers, "Accept": "text/csv"})
    assert "'=SUM(A1)" in as_csv.text


async def test_backoffice_reads_reports_and_another_org_sees_only_its_own(
    app_client: httpx.AsyncClient, db: Database, shop: Tenant, history: History, other_tenant: Tenant
) -> None:
    owner = shop.owner_principal
    issued = await identity.create_api_key(
        db, owner, setup_audit(owner), name="books", role=Role.BACKOFFICE, expires_at=None
    )
    mine = await app_client.get(f"/v1/reports/sales?{RANGE}", headers=bearer(issued.secret))
    assert mine.status_code == 200 and mine.json()["rows"] == expected_sales(history, shop.org_id, "day")
    theirs = await app_client.get(f"/v1/reports/sales?{RANGE}", headers=other_tenant.headers_for(Role.ADMIN))
    assert theirs.status_code == 200 and theirs.json()["rows"] == []
    refused = await app_client.get(f"/v1/reports/sales?{RANGE}", headers=bearer(shop.storefront_key))
    assert refused.status_code == 403


@pytest.mark.parametrize(
    ("query", "field", "rule"),
    [
        ("from=2026-02-01&to=2026-01-01", "query.to", "before_from"),
        ("from=1969-12-31&to=2026-01-01", "query.from", "too_early"),
        ("from=2000-01-01&to=2026-01-01", "query.to", "range_too_long"),
        ("to=2026-01-01", "query.from", "missing"),
        ("from=2026-01-01&to=2026-01-31&granularity=year", "query.granularity", "enum"),
        ("from=2026-01-01&to=2026-01-31&currency=eur", "query.currency", "string_pattern_mismatch"),
    ],
)
async def test_bad_parameters_are_a_422_naming_the_field_and_rule(
    app_client: httpx.AsyncClient, shop: Tenant, query: str, field: str, rule: str
) -> None:
    answer = await app_client.get(f"/v1/reports/sales?{query}", headers=bearer(shop.owner_key))
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert answer.headers["content-type"] == "application/problem+json"
    assert [(e["field"], e["rule"]) for e in problem["errors"]] == [(field, rule)]


@pytest.fixture(scope="module")
async def mariadb_url() -> AsyncIterator[str]:
    server = configured("TEST_MARIADB_URL")
    if server is None:
        pytest.skip("TEST_MARIADB_URL is not set (CI=true uses the MariaDB server at 127.0.0.1:3306)")
    async with mariadb_database(server) as url:
        yield url


async def test_the_api_on_a_mariadb_reporting_store(
    config: Config, database_url: str, shop: Tenant, mariadb_url: str
) -> None:
    story = build_history(_stories(), orgs=[shop.org_id])
    store = open_store(mariadb_url)
    try:
        await deliver(store, story.delivered(random.Random(4)))
    finally:
        await store.dispose()
    on_mariadb = replace(config, reporting_database_url=mariadb_url)
    app = create_app(lambda: open_runtime(on_mariadb, database_url), on_mariadb)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://emporium.test") as client:
            headers = bearer(shop.owner_key)
            sales = await client.get(f"/v1/reports/sales?{RANGE}&granularity=month", headers=headers)
            assert sales.json()["rows"] == expected_sales(story, shop.org_id, "month")
            as_csv = await client.get(f"/v1/reports/payments?{RANGE}", headers={**headers, "Accept": "text/csv"})
            assert _csv(as_csv.text) == _as_text(expected_payments(story, shop.org_id, "day"))
            products = await client.get(f"/v1/reports/products?{RANGE}&sort=revenue&limit=3", headers=headers)
            assert products.json()["rows"] == expected_products(story, shop.org_id, "revenue", 3)
