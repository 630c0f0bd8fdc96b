"""Webhook endpoints: a notifications resource served by the same CRUD engine as the catalog."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
import standardwebhooks

from tests.support.identity import Tenant, bearer
from tests.support.problems import assert_problem


async def test_the_signing_secret_is_shown_once_and_is_a_standard_webhooks_secret(
    app_client: httpx.AsyncClient, tenant: Tenant, pg: asyncpg.Connection
) -> None:
    owner = bearer(tenant.owner_key)
    created = await app_client.post(
        "/v1/webhook-endpoints",
        headers=owner,
        json={
            "url": "https://hooks.example.com/orders",
            "event_types": ["OrderShipped", "OrderCreated", "OrderCreated"],
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["event_types"] == ["OrderCreated", "OrderShipped"]
    secret = body["secret"]
    assert secret.startswith("whsec_")
    standardwebhooks.Webhook(secret)  # accepted by the reference implementation
    got = (await app_client.get(f"/v1/webhook-endpoints/{body['id']}", headers=owner)).json()
    assert "secret" not in got
    assert secret.startswith(got["secret_hint"].rstrip("…"))
    disabled = await app_client.patch(f"/v1/webhook-endpoints/{body['id']}", headers=owner, json={"enabled": False})
    assert disabled.json()["enabled"] is False
    listed = (await app_client.get("/v1/webhook-endpoints", headers=owner, params={"enabled": "false"})).json()
    assert body["id"] in [e["id"] for e in listed["items"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://example.com/x", "event_types": ["OrderCreated"]}, "url"),
        ({"url": "https://example.com/x", "event_types": []}, "event_types"),
        ({"url": "https://example.com/x", "event_types": ["order created"]}, "event_types[0]"),
        ({"url": "https://example.com/x", "event_types": ["*"], "secret": "whsec_mine"}, "secret"),
    ],
)
async def test_bad_endpoints_are_refused(
    app_client: httpx.AsyncClient, tenant: Tenant, body: dict[str, object], field: str
) -> None:
    problem = assert_problem(
        await app_client.post("/v1/webhook-endpoints", headers=bearer(tenant.owner_key), json=body),
        422,
        "validation_failed",
    )
    assert [e["field"] for e in problem["errors"]] == [field]  # type: ignore[union-attr, index]


@pytest.mark.parametrize(
    "pins",
    [["OrderPaid.v7"], ["OrderCreated", "OrderCancelled.v3"], ["OrderShipped.v2"], ["OrderDreamt.v1"]],
)
async def test_a_pinned_version_the_event_never_had_or_no_longer_renders_is_refused(
    app_client: httpx.AsyncClient, tenant: Tenant, pins: list[str]
) -> None:
    owner = bearer(tenant.owner_key)
    body = {"url": "https://hooks.example.com/pinned", "event_types": pins}
    problem = assert_problem(await app_client.post("/v1/webhook-endpoints", headers=owner, json=body), 422,
                             "validation_failed")  # fmt: skip
    [error] = problem["errors"]  # type: ignore[misc]
    assert (error["field"], error["rule"]) == ("event_types", "unknown_event_version")
    assert pins[-1] in error["message"] and "pinned version" in error["message"]
    created = await app_client.post(
        "/v1/webhook-endpoints", headers=owner, json={**body, "event_types": ["OrderCreated"]}
    )
    assert created.status_code == 201, created.text
    patched = await app_client.patch(
        f"/v1/webhook-endpoints/{created.json()['id']}", headers=owner, json={"event_types": pins}
    )
    assert_problem(patched, 422, "validation_failed")


async def test_current_and_still_rendered_versions_may_be_pinned(app_client: httpx.AsyncClient, tenant: Tenant) -> None:
    types = ["OrderCancelled.v1", "OrderCancelled.v2", "OrderCreated.v1", "OrderPaid", "OrderPaid.v1", "OrderPaid.v2"]
    created = await app_client.post(
        "/v1/webhook-endpoints",
        headers=bearer(tenant.owner_key),
        json={"url": "https://hooks.example.com/pinned", "event_types": types},
    )
    assert created.status_code == 201, created.text
    assert created.json()["event_types"] == types


REFUSED_URLS = [
    "http://127.0.0.1/hook",
    "http://localhost/hook",
    "http://api.localhost:8080/hook",
    "http://[::1]/hook",
    "http://0.0.0.0/hook",
    "http://10.1.2.3/hook",
    "http://172.16.0.1/hook",
    "http://172.31.255.255/hook",
    "http://192.168.1.10/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[::ffff:a9fe:a9fe]/hook",
    "http://2130706433/hook",
    "http://0177.0.0.1/hook",
    "http://0x7f.0.0.1/hook",
    "http://0x7f000001/hook",
    "http://127.1/hook",
    "http://100.64.0.1/hook",
    "file:///etc/passwd",
    "gopher://example.com/_x",
]


@pytest.mark.parametrize("url", REFUSED_URLS)
async def test_endpoint_urls_that_reach_internal_addresses_are_refused_naming_url(
    app_client: httpx.AsyncClient, tenant: Tenant, url: str
) -> None:
    problem = assert_problem(
        await app_client.post(
            "/v1/webhook-endpoints", headers=bearer(tenant.owner_key), json={"url": url, "event_types": ["*"]}
        ),
        422,
        "validation_failed",
    )
    assert [e["field"] for e in problem["errors"]] == ["url"]  # type: ignore[union-attr, index]


async def test_an_update_to_an_internal_url_is_refused_too(app_client: httpx.AsyncClient, tenant: Tenant) -> None:
    owner = bearer(tenant.owner_key)
    created = await app_client.post(
        "/v1/webhook-endpoints", headers=owner, json={"url": "https://hooks.example.com/a", "event_types": ["*"]}
    )
    endpoint_id = created.json()["id"]
    problem = assert_problem(
        await app_client.patch(
            f"/v1/webhook-endpoints/{endpoint_id}", headers=owner, json={"url": "http://169.254.169.254/"}
        ),
        422,
        "validation_failed",
    )
    assert [e["field"] for e in problem["errors"]] == ["url"]  # type: ignore[union-attr, index]
