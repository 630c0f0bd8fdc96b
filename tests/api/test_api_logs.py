"""The API request log: every request recorded off the request path, read by the org's owners and admins.

The writer drains the buffer every half second, so the tests poll the API until the rows are there.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from emporium.bootstrap.app import create_app
from emporium.platform.db.engine import Database
from emporium.platform.requestlog import RequestLogBuffer, to_records
from tests.services import scaled
from tests.support.identity import Tenant, bearer, make_tenant
from tests.support.orders import key


async def _logged(client: httpx.AsyncClient, api_key: str, query: str = "") -> list[dict[str, object]]:
    items: list[dict[str, object]] = []
    cursor = None
    while True:
        page = await client.get(
            f"/v1/api-logs?limit=200{query}" + (f"&cursor={cursor}" if cursor else ""), headers=bearer(api_key)
        )
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items


async def _wait_for(client: httpx.AsyncClient, api_key: str, count: int, query: str = "") -> list[dict[str, object]]:
    deadline = time.monotonic() + 30
    while True:
        items = await _logged(client, api_key, query)
        if len(items) >= count or time.monotonic() > deadline:
            return items
        await asyncio.sleep(0.2)


async def test_a_request_is_logged_with_its_route_principal_and_keys(
    app_client: httpx.AsyncClient, db: Database
) -> None:
    shop = await make_tenant(db, "Logged shop")
    idem = key()
    answer = await app_client.post(
        "/v1/orders", json={"lines": []}, headers={**bearer(shop.owner_key), "Idempotency-Key": idem}
    )
    assert answer.status_code == 422
    [entry] = await _wait_for(app_client, shop.owner_key, 1, "&route=/v1/orders&method=POST")
    assert entry["status"] == 422
    assert entry["idempotency_key"] == idem
    assert entry["request_id"] == answer.headers["x-request-id"]
    assert entry["actor_type"] == "api_key"
    assert isinstance(entry["latency_ms"], float) and entry["latency_ms"] > 0


async def test_pages_cover_every_request_once_newest_first_and_only_the_org_s(
    app_client: httpx.AsyncClient, db: Database, tenant: Tenant
) -> None:
    shop = await make_tenant(db, "Paged shop")
    for _ in range(23):
        await app_client.get("/v1/orgs/me", headers=bearer(shop.owner_key))
    await _wait_for(app_client, shop.owner_key, 23, "&route=/v1/orgs/me")
    seen, cursor = [], None
    while True:
        page = await app_client.get(
            "/v1/api-logs?limit=5&route=/v1/orgs/me" + (f"&cursor={cursor}" if cursor else ""),
            headers=bearer(shop.owner_key),
        )
        seen += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 23 and len({e["id"] for e in seen}) == 23
    assert [e["occurred_at"] for e in seen] == sorted((e["occurred_at"] for e in seen), reverse=True)
    others = await _logged(app_client, tenant.owner_key, "&route=/v1/orgs/me")
    assert not {e["id"] for e in others} & {e["id"] for e in seen}


@pytest.mark.soak
async def test_no_request_is_lost_while_the_buffer_has_room(app_client: httpx.AsyncClient, db: Database) -> None:
    """Under concurrent load every request reaches the log (10,000 under `make soak`)."""
    shop = await make_tenant(db, "Busy shop")
    total, concurrency = scaled(500, 10_000), 20

    async def client_loop(share: int) -> None:
        for _ in range(share):
            answer = await app_client.get("/v1/auth/whoami", headers=bearer(shop.owner_key))
            assert answer.status_code == 200, answer.text
            # In-process, a request answered from the principal cache never waits on I/O, so without this
            # a client would keep the event loop until its share is done (the writer and the others wait).
            await asyncio.sleep(0)

    await asyncio.gather(*(client_loop(total // concurrency) for _ in range(concurrency)))
    logged = await _wait_for(app_client, shop.owner_key, total, "&route=/v1/auth/whoami")
    assert len(logged) == total


def test_a_full_buffer_drops_and_counts_without_blocking() -> None:
    buffer = RequestLogBuffer(capacity=3)
    for _ in range(5):
        buffer.append((0.0, {}, "/v1/x", "GET", 200, 0.001, []))
    assert (len(buffer), buffer.dropped) == (3, 2)
    assert len(buffer.take()) == 3 and len(buffer) == 0


@pytest.mark.parametrize("query", ["cursor=bm9wZQ", "status=99", "method=get", "from=yesterday", "limit=0"])
async def test_bad_filters_are_problems(app_client: httpx.AsyncClient, tenant: Tenant, query: str) -> None:
    answer = await app_client.get(f"/v1/api-logs?{query}", headers=bearer(tenant.owner_key))
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"


def test_the_buffer_is_on_the_app() -> None:
    assert isinstance(create_app().state.request_log, RequestLogBuffer)


def test_probes_and_console_pages_are_not_api_calls() -> None:
    raw = [(0.0, {}, route, "GET", 200, 0.001, []) for route in ("/livez", "/console/flags", "/v1/orgs/me")]
    assert [record.route for record in to_records(raw)] == ["/v1/orgs/me"]
