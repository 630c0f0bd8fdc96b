"""Catalog through the API: the CRUD engine's behaviour on products and categories, inventory, bulk.

Every test runs twice: with the catalog in PostgreSQL and in MongoDB (decision 026).
"""

from __future__ import annotations

import httpx
import pytest

from emporium.bootstrap.app import create_app
from emporium.modules.catalog.resources import Catalog
from emporium.platform.db.engine import Database
from emporium.platform.pagination import encode_cursor
from tests.support.catalog import make_category, make_product, new_sku
from tests.support.identity import Tenant, bearer, make_tenant
from tests.support.problems import assert_problem


@pytest.fixture(scope="session")
def app_client(
    catalog_store: str, app_client: httpx.AsyncClient, mongo_app_client: httpx.AsyncClient
) -> httpx.AsyncClient:
    """The app with its catalog on the store this run tests."""
    return mongo_app_client if catalog_store == "mongodb" else app_client


@pytest.fixture(scope="session")
def tenant(catalog_store: str, tenant: Tenant, mongo_tenant: Tenant) -> Tenant:
    return mongo_tenant if catalog_store == "mongodb" else tenant


def _product(sku: str | None = None, amount: int = 1999, **extra: object) -> dict[str, object]:
    return {"sku": sku or new_sku(), "name": "Shirt", "price": {"amount": amount, "currency": "EUR"}, **extra}


async def test_create_read_update_with_etags(app_client: httpx.AsyncClient, tenant: Tenant) -> None:
    owner = bearer(tenant.owner_key)
    created = await app_client.post("/v1/products", headers=owner, json=_product(attributes={"color": "red"}))
    assert created.status_code == 201, created.text
    product = created.json()
    assert product["price"] == {"amount": 1999, "currency": "EUR", "formatted": "19.99 EUR"}
    assert created.headers["etag"] == '"1"'
    assert created.headers["location"] == f"/v1/products/{product['id']}"

    got = await app_client.get(f"/v1/products/{product['id']}", headers=owner)
    assert got.headers["etag"] == '"1"'
    patched = await app_client.patch(
        f"/v1/products/{product['id']}",
        headers={**owner, "If-Match": '"1"'},
        json={"price": {"amount": 2500, "currency": "EUR"}},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["version"] == 2
    assert patched.json()["name"] == "Shirt"  # untouched fields stay
    assert patched.headers["etag"] == '"2"'
    stale = await app_client.patch(
        f"/v1/products/{product['id']}", headers={**owner, "If-Match": '"1"'}, json={"name": "Lost update"}
    )
    assert_problem(stale, 412, "precondition_failed")
    assert (await app_client.get(f"/v1/products/{product['id']}", headers=owner)).json()["name"] == "Shirt"
    bad = await app_client.patch(
        f"/v1/products/{product['id']}", headers={**owner, "If-Match": "yesterday"}, json={"name": "x"}
    )
    assert_problem(bad, 400, "bad_request")


async def test_validation_errors_name_field_and_rule(app_client: httpx.AsyncClient, tenant: Tenant) -> None:
    body = {"sku": "bad sku!", "name": "", "price": {"amount": -1, "currency": "XXX"}, "org_id": "org_evil"}
    problem = assert_problem(
        await app_client.post("/v1/products", headers=bearer(tenant.owner_key), json=body), 422, "validation_failed"
    )
    rules = {(e["field"], e["rule"]) for e in problem["errors"]}  # type: ignore[union-attr, index]
    assert rules == {
        ("sku", "string_pattern_mismatch"),
        ("name", "string_too_short"),
        ("price.amount", "greater_than_equal"),
        ("price.currency", "value_error"),
        ("org_id", "extra_forbidden"),
    }
    created = await app_client.post("/v1/products", headers=bearer(tenant.owner_key), json=_product())
    nulled = await app_client.patch(
        f"/v1/products/{created.json()['id']}", headers=bearer(tenant.owner_key), json={"price": None}
    )
    assert_problem(nulled, 422, "validation_failed")


async def test_duplicate_sku_is_a_conflict_and_deleting_frees_it(app_client: httpx.AsyncClient, tenant: Tenant) -> None:
    owner = bearer(tenant.owner_key)
    sku = new_sku()
    first = (await app_client.post("/v1/products", headers=owner, json=_product(sku))).json()
    assert_problem(await app_client.post("/v1/products", headers=owner, json=_product(sku)), 409, "already_exists")
    assert (await app_client.delete(f"/v1/products/{first['id']}", headers=owner)).status_code == 204
    assert_problem(await app_client.get(f"/v1/products/{first['id']}", headers=owner), 404, "not_found")
    assert_problem(await app_client.get(f"/v1/products/by-sku/{sku}", headers=owner), 404, "not_found")
    again = await app_client.post("/v1/products", headers=owner, json=_product(sku))
    assert again.status_code == 201
    assert (await app_client.get(f"/v1/products/by-sku/{sku}", headers=owner)).json()["id"] == again.json()["id"]


async def test_filters_sorts_and_pages(app_client: httpx.AsyncClient, db: Database) -> None:
    shop = await make_tenant(db, "Filters")
    owner = bearer(shop.owner_key)
    for i, (name, amount, active) in enumerate(
        [("Shirt", 500, True), ("Shoe", 1500, True), ("Shorts", 2500, False), ("Hat", 100, True), ("Shawl", 3000, True)]
    ):
        body = _product(f"F-{i}", amount, name=name, active=active)
        assert (await app_client.post("/v1/products", headers=owner, json=body)).status_code == 201

    async def skus(params: dict[str, str]) -> list[str]:
        response = await app_client.get("/v1/products", headers=owner, params=params)
        assert response.status_code == 200, response.text
        return [p["sku"] for p in response.json()["items"]]

    assert await skus({"status": "active", "price[gte]": "1000", "sort": "price"}) == ["F-1", "F-4"]
    assert await skus({"sku[in]": "F-0,F-3,nope", "sort": "sku"}) == ["F-0", "F-3"]
    assert await skus({"name[prefix]": "Sh", "sort": "-price"}) == ["F-4", "F-2", "F-1", "F-0"]
    assert await skus({"price[lt]": "500"}) == ["F-3"]
    assert await skus({"name[prefix]": "%"}) == []  # LIKE wildcards are literal

    walked: list[str] = []
    params = {"sort": "-price", "limit": "2"}
    while True:
        page = (await app_client.get("/v1/products", headers=owner, params=params)).json()
        walked += [p["sku"] for p in page["items"]]
        if page["next_cursor"] is None:
            break
        params = {"sort": "-price", "limit": "2", "cursor": page["next_cursor"]}
    assert walked == ["F-4", "F-2", "F-1", "F-0", "F-3"]
    price_cursor = encode_cursor(["price", 100, "prd_x"])
    mismatched = await app_client.get("/v1/products", headers=owner, params={"sort": "name", "cursor": price_cursor})
    assert_problem(mismatched, 422, "validation_failed")


@pytest.mark.parametrize(
    ("params", "parameter", "rule"),
    [
        ({"colour": "red"}, "query.colour", "unknown_filter"),
        ({"price[near]": "5"}, "query.price[near]", "unknown_operator"),
        ({"status[gte]": "active"}, "query.status[gte]", "operator_not_allowed"),
        ({"price[gte]": "cheap"}, "query.price[gte]", "int_parsing"),
        ({"status": "archived"}, "query.status", "enum"),
        ({"sort": "colour"}, "query.sort", "unknown_sort"),
        ({"limit": "500"}, "query.limit", "range"),
        ({"cursor": "garbage"}, "cursor", "invalid_cursor"),
    ],
)
async def test_bad_list_parameters_are_422_naming_the_parameter(
    app_client: httpx.AsyncClient, tenant: Tenant, params: dict[str, str], parameter: str, rule: str
) -> None:
    problem = assert_problem(
        await app_client.get("/v1/products", headers=bearer(tenant.owner_key), params=params), 422, "validation_failed"
    )
    assert problem["errors"] == [{"field": parameter, "rule": rule, "message": problem["errors"][0]["message"]}]  # type: ignore[index]


async def test_openapi_documents_typed_filters() -> None:
    spec = create_app().openapi()
    params = {p["name"]: p for p in spec["paths"]["/v1/products"]["get"]["parameters"]}
    assert params["price[gte]"]["schema"] == {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1}
    assert params["status"]["schema"]["enum"] == ["active", "inactive"]
    assert "-price" in params["sort"]["schema"]["enum"]
    assert params["sku[prefix]"]["example"] == "TSHIRT-RED-M"


async def test_inventory_adjustments_and_ledger(
    app_client: httpx.AsyncClient, db: Database, tenant: Tenant, catalog: Catalog
) -> None:
    owner = bearer(tenant.owner_key)
    product = await make_product(db, tenant, catalog=catalog)
    url = f"/v1/products/{product['id']}/inventory"
    restock = await app_client.post(
        url + "/adjustments", headers=owner, json={"kind": "restock", "quantity": 10, "reason": "PO-1"}
    )
    assert restock.status_code == 201, restock.text
    assert restock.json()["inventory"] == {**restock.json()["inventory"], "on_hand": 10, "reserved": 0, "available": 10}
    fix = await app_client.post(
        url + "/adjustments", headers=owner, json={"kind": "correction", "quantity": -3, "reason": "count"}
    )
    assert fix.json()["adjustment"]["on_hand_after"] == 7
    too_far = await app_client.post(
        url + "/adjustments", headers=owner, json={"kind": "correction", "quantity": -8, "reason": "x"}
    )
    assert_problem(too_far, 409, "stock_below_reserved")
    negative_restock = await app_client.post(
        url + "/adjustments", headers=owner, json={"kind": "restock", "quantity": -1, "reason": "x"}
    )
    assert_problem(negative_restock, 422, "validation_failed")
    hand_sale = await app_client.post(
        url + "/adjustments", headers=owner, json={"kind": "sale", "quantity": -1, "reason": "x"}
    )
    assert_problem(hand_sale, 422, "validation_failed")
    ledger = (await app_client.get(url + "/adjustments", headers=owner)).json()["items"]
    assert [(a["kind"], a["quantity"], a["on_hand_after"]) for a in ledger] == [
        ("correction", -3, 7),
        ("restock", 10, 10),
    ]
    assert (await app_client.get(url, headers=owner)).json()["available"] == 7


async def test_categories_reject_unknown_parents_cycles_and_deleting_used_ones(
    app_client: httpx.AsyncClient, db: Database, tenant: Tenant, catalog: Catalog
) -> None:
    owner = bearer(tenant.owner_key)
    root = await make_category(db, tenant, "Clothes", catalog=catalog)
    child = await make_category(db, tenant, "Shirts", root, catalog=catalog)
    cycle = await app_client.patch(f"/v1/categories/{root}", headers=owner, json={"parent_id": child})
    assert_problem(cycle, 422, "validation_failed")
    unknown = await app_client.post("/v1/categories", headers=owner, json={"name": "X", "parent_id": "cat_nope"})
    assert_problem(unknown, 422, "validation_failed")
    assert_problem(await app_client.delete(f"/v1/categories/{root}", headers=owner), 409, "conflict")
    product = await app_client.post("/v1/products", headers=owner, json=_product(category_id=child))
    assert product.status_code == 201
    assert_problem(await app_client.delete(f"/v1/categories/{child}", headers=owner), 409, "conflict")
    in_category = await app_client.get("/v1/products", headers=owner, params={"category": child})
    assert [p["id"] for p in in_category.json()["items"]] == [product.json()["id"]]


async def test_bulk_upsert_reports_every_item(app_client: httpx.AsyncClient, db: Database) -> None:
    shop = await make_tenant(db, "Bulk")
    owner = bearer(shop.owner_key)
    existing = (await app_client.post("/v1/products", headers=owner, json=_product("B-0", 100))).json()
    items = [
        _product("B-0", 999),  # update
        _product("B-1"),  # create
        {"sku": "B-2", "name": "No price"},  # invalid
        _product("B-1", 5),  # repeated in the batch
        _product("B-3", category_id="cat_missing"),  # unknown category
    ]
    response = await app_client.post("/v1/products:bulk", headers=owner, json={"items": items})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["created"], body["updated"], body["failed"]) == (1, 1, 3)
    statuses = [(r["index"], r["status"]) for r in body["results"]]
    assert statuses == [(0, "updated"), (1, "created"), (2, "failed"), (3, "failed"), (4, "failed")]
    assert body["results"][0]["id"] == existing["id"]
    assert body["results"][2]["errors"][0]["field"] == "price"
    assert body["results"][3]["errors"][0]["rule"] == "unique_in_batch"
    assert body["results"][4]["errors"][0]["field"] == "category_id"
    assert (await app_client.get(f"/v1/products/{existing['id']}", headers=owner)).json()["price"]["amount"] == 999
    too_many = await app_client.post("/v1/products:bulk", headers=owner, json={"items": [_product()] * 1001})
    assert_problem(too_many, 422, "validation_failed")


async def test_named_query(app_client: httpx.AsyncClient, db: Database) -> None:
    shop = await make_tenant(db, "Query")
    owner = bearer(shop.owner_key)
    for i, amount in enumerate([100, 200, 300]):
        await app_client.post("/v1/products", headers=owner, json=_product(f"Q-{i}", amount))
    response = await app_client.get(
        "/v1/products:cheaper_than", headers=owner, params={"max_amount": "250", "sort": "price"}
    )
    assert [p["sku"] for p in response.json()["items"]] == ["Q-0", "Q-1"]
    assert_problem(await app_client.get("/v1/products:cheaper_than", headers=owner), 422, "validation_failed")


async def test_another_org_cannot_touch_products(
    app_client: httpx.AsyncClient, db: Database, tenant: Tenant, other_tenant: Tenant, catalog: Catalog
) -> None:
    product = await make_product(db, tenant, catalog=catalog)
    other = bearer(other_tenant.owner_key)
    assert_problem(await app_client.get(f"/v1/products/{product['id']}", headers=other), 404, "not_found")
    assert_problem(
        await app_client.patch(f"/v1/products/{product['id']}", headers=other, json={"name": "x"}), 404, "not_found"
    )
    listed = (await app_client.get("/v1/products", headers=other, params={"sku": str(product["sku"])})).json()
    assert listed["items"] == []


async def test_every_product_write_is_audited_with_its_outcome(app_client: httpx.AsyncClient, db: Database) -> None:
    shop = await make_tenant(db, "Audited")
    owner = bearer(shop.owner_key)
    created = (await app_client.post("/v1/products", headers=owner, json=_product())).json()
    path = f"/v1/products/{created['id']}"
    assert (await app_client.patch(path, headers=owner, json={"name": "Renamed"})).status_code == 200
    assert (await app_client.patch(path, headers={**owner, "If-Match": '"1"'}, json={"name": "x"})).status_code == 412
    assert (await app_client.delete(path, headers=owner)).status_code == 204
    log = (await app_client.get("/v1/audit-log", headers=owner, params={"target": created["id"]})).json()
    assert sorted(e["status"] for e in log["items"]) == [200, 201, 204, 412]  # a refused write is audited too
    assert (await app_client.get(path, headers=owner)).status_code == 404  # soft-deleted: gone from the API
