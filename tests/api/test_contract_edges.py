"""Edges a client library trips over: Allow on 405, Connection: close on 413, strict JSON types, clear messages."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.support.identity import METRICS_TOKEN, Tenant, bearer
from tests.support.problems import assert_problem


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/v1/products", "GET, POST"),
        ("PUT", "/v1/products/prd_x", "GET, PATCH, DELETE"),
        ("GET", "/v1/orders/ord_x/cancel", "POST"),
        ("DELETE", "/v1/orders", "GET, POST"),
    ],
)
async def test_405_allow_lists_every_method_of_the_path(
    app_client: httpx.AsyncClient, tenant: Tenant, method: str, path: str, allow: str
) -> None:
    response = await app_client.request(method, path, headers=bearer(tenant.owner_key))
    assert_problem(response, 405, "method_not_allowed")
    assert response.headers["allow"] == allow


async def test_a_413_tells_the_client_to_close_the_connection(app_client: httpx.AsyncClient, tenant: Tenant) -> None:
    async def stream() -> AsyncIterator[bytes]:  # chunked: refused while it arrives, the rest is never read
        for _ in range(20):
            yield b"x" * 100_000

    headers = {**bearer(tenant.owner_key), "content-type": "application/json"}
    streamed = await app_client.post("/v1/categories", headers=headers, content=stream())
    assert_problem(streamed, 413, "payload_too_large")
    assert streamed.headers["connection"] == "close"
    declared = await app_client.post("/v1/categories", headers=headers, content=b"x" * 1_100_000)
    assert declared.status_code == 413 and declared.headers["connection"] == "close"


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        ({"sku": "S1", "name": "n", "price": {"amount": "5", "currency": "EUR"}}, "price.amount", "int_type"),
        ({"sku": "S1", "name": "n", "price": {"amount": True, "currency": "EUR"}}, "price.amount", "int_type"),
        ({"sku": "S1", "name": "n", "price": {"amount": 5, "currency": "EUR"}, "active": "yes"}, "active", "bool_type"),
        ({"sku": "S1", "name": "n", "price": {"amount": 5, "currency": "EUR"}, "active": 0}, "active", "bool_type"),
        (
            {"sku": "S1", "name": "n", "price": {"amount": 5, "currency": "EUR"}, "description": "x" * 5000 + " "},
            "description",
            "string_too_long",
        ),
    ],
)
async def test_json_types_are_taken_as_sent(
    app_client: httpx.AsyncClient, tenant: Tenant, body: dict[str, object], field: str, rule: str
) -> None:
    response = await app_client.post("/v1/products", json=body, headers=bearer(tenant.owner_key))
    problem = assert_problem(response, 422, "validation_failed")
    assert {"field": field, "rule": rule} in [{k: e[k] for k in ("field", "rule")} for e in problem["errors"]]  # type: ignore[attr-defined]


async def test_a_number_is_not_a_date(app_client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await app_client.get("/v1/audit-log?to=0.5", headers=bearer(tenant.owner_key))
    problem = assert_problem(response, 422, "validation_failed")
    assert "RFC 3339" in str(problem["detail"])


async def test_a_body_that_is_not_json_is_a_415_saying_what_to_send(
    app_client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await app_client.post(
        "/v1/categories",
        content=b"name=Shirts",
        headers={**bearer(tenant.owner_key), "content-type": "application/x-www-form-urlencoded"},
    )
    problem = assert_problem(response, 415, "unsupported_media_type")
    assert "Content-Type: application/json" in str(problem["detail"])


async def test_a_broken_json_body_is_a_400_saying_where(app_client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await app_client.post(
        "/v1/categories",
        content=b'{"name": "x",}',
        headers={**bearer(tenant.owner_key), "content-type": "application/json"},
    )
    problem = assert_problem(response, 400, "malformed_json")
    assert "at character 13" in str(problem["detail"])


async def test_metrics_need_their_token(app_client: httpx.AsyncClient, tenant: Tenant) -> None:
    anonymous = await app_client.get("/metrics")
    assert_problem(anonymous, 401, "unauthenticated")
    assert anonymous.headers["www-authenticate"] == 'Bearer realm="metrics"'
    assert (
        await app_client.get("/metrics", headers=bearer(tenant.owner_key))
    ).status_code == 401  # an org key is not it
    scraped = await app_client.get("/metrics", headers=bearer(METRICS_TOKEN))
    assert scraped.status_code == 200 and "http_requests_total" in scraped.text


async def test_without_a_metrics_token_metrics_are_off() -> None:
    from emporium.bootstrap.app import create_app

    app = create_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        assert_problem(await client.get("/metrics"), 404, "metrics_disabled")


async def test_a_stock_adjustment_retried_with_its_idempotency_key_counts_once(
    app_client: httpx.AsyncClient, tenant: Tenant
) -> None:
    headers = bearer(tenant.owner_key)
    product = await app_client.post(
        "/v1/products",
        json={"sku": "IDEMP-ADJ-1", "name": "Mug", "price": {"amount": 500, "currency": "EUR"}},
        headers=headers,
    )
    assert product.status_code == 201, product.text
    url = f"/v1/products/{product.json()['id']}/inventory/adjustments"
    body = {"kind": "restock", "quantity": 7, "reason": "PO-1"}
    keyed = {**headers, "Idempotency-Key": "restock-po-1"}
    first = await app_client.post(url, json=body, headers=keyed)
    again = await app_client.post(url, json=body, headers=keyed)
    assert first.status_code == again.status_code == 201, again.text
    assert again.headers["idempotent-replayed"] == "true" and again.json() == first.json()
    inventory = (await app_client.get(f"/v1/products/{product.json()['id']}/inventory", headers=headers)).json()
    assert inventory["on_hand"] == 7
    other = await app_client.post(url, json={**body, "quantity": 8}, headers=keyed)
    assert_problem(other, 422, "idempotency_key_reused")
    unkeyed = await app_client.post(url, json=body, headers=headers)  # still optional
    assert unkeyed.status_code == 201 and unkeyed.json()["inventory"]["on_hand"] == 14
