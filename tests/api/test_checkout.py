"""Checkout through the API: idempotent, no oversell, no double charge, declines compensated."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx

from emporium.platform.db.engine import Database
from tests.support.catalog import make_product
from tests.support.identity import Tenant, bearer, make_tenant
from tests.support.orders import key, order_body, order_charges, place
from tests.support.problems import assert_problem


async def _inventory(pg: asyncpg.Connection, product_id: object) -> tuple[int, int]:
    row = await pg.fetchrow("SELECT on_hand, reserved FROM catalog.inventory WHERE product_id = $1", product_id)
    return row["on_hand"], row["reserved"]


async def test_a_paid_order_snapshots_lines_reserves_stock_and_charges_once(
    app_client: httpx.AsyncClient, db: Database, tenant: Tenant, pg: asyncpg.Connection
) -> None:
    shirt = await make_product(db, tenant, price=1500, on_hand=5)
    mug = await make_product(db, tenant, price=799, on_hand=5)
    response = await place(
        app_client, tenant.storefront_key, order_body((str(shirt["sku"]), 2), (str(mug["sku"]), 1), shipping=490)
    )
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["status"] == "paid"
    assert order["subtotal"]["amount"] == 2 * 1500 + 799
    assert order["total"]["amount"] == 2 * 1500 + 799 + 490
    assert [(line["sku"], line["quantity"], line["unit_price"]["amount"]) for line in order["lines"]] == [
        (shirt["sku"], 2, 1500),
        (mug["sku"], 1, 799),
    ] or sorted(line["sku"] for line in order["lines"]) == sorted([shirt["sku"], mug["sku"]])
    assert await _inventory(pg, shirt["id"]) == (5, 2)
    assert await order_charges(pg, order["id"]) == 1
    events = [
        r["name"]
        for r in await pg.fetch("SELECT name FROM platform.outbox WHERE aggregate_id = $1 ORDER BY seq", order["id"])
    ]
    assert events[:2] == ["orders.order_created", "orders.order_paid"]
    # A price change later does not touch the order's snapshot.
    await app_client.patch(
        f"/v1/products/{shirt['id']}",
        headers=bearer(tenant.owner_key),
        json={"price": {"amount": 1, "currency": "EUR"}},
    )
    again = (await app_client.get(f"/v1/orders/{order['id']}", headers=bearer(tenant.owner_key))).json()
    assert again["lines"] == order["lines"]


async def test_idempotency_key_rules(
    app_client: httpx.AsyncClient, db: Database, tenant: Tenant, pg: asyncpg.Connection
) -> None:
    product = await make_product(db, tenant, on_hand=10)
    body = order_body((str(product["sku"]), 1))
    headers = bearer(tenant.storefront_key)
    missing = await app_client.post("/v1/orders", headers=headers, json=body)
    assert_problem(missing, 400, "idempotency_key_required")
    idem = key()
    first = await place(app_client, tenant.storefront_key, body, idem)
    replay = await place(app_client, tenant.storefront_key, body, idem)
    assert replay.status_code == first.status_code == 201
    assert replay.content == first.content
    assert replay.headers["idempotent-replayed"] == "true"
    other = await place(app_client, tenant.storefront_key, order_body((str(product["sku"]), 2)), idem)
    assert_problem(other, 422, "idempotency_key_reused")
    assert (
        await pg.fetchval(
            "SELECT count(*) FROM orders.order WHERE org_id = $1 AND id = $2", tenant.org_id, first.json()["id"]
        )
        == 1
    )
    assert await _inventory(pg, product["id"]) == (10, 1)


async def test_50_identical_concurrent_requests_make_one_order_and_one_charge(
    app_client: httpx.AsyncClient, db: Database, pg: asyncpg.Connection
) -> None:
    shop = await make_tenant(db, "Identical")
    product = await make_product(db, shop, on_hand=1000)
    body = order_body((str(product["sku"]), 1))
    for _ in range(20):
        idem = key()
        responses = await asyncio.gather(*(place(app_client, shop.storefront_key, body, idem) for _ in range(50)))
        created = [r for r in responses if r.status_code == 201]
        others = [r for r in responses if r.status_code != 201]
        assert created, [r.text for r in responses[:3]]
        assert {r.content for r in created} == {created[0].content}  # replays are byte-identical
        assert all(r.status_code == 409 for r in others), {r.status_code for r in others}
        order_id = created[0].json()["id"]
        assert (
            await pg.fetchval(
                "SELECT count(*) FROM platform.idempotency_key WHERE org_id = $1 AND key = $2", shop.org_id, idem
            )
            == 1
        )
        assert await order_charges(pg, order_id) == 1
    assert await pg.fetchval("SELECT count(*) FROM orders.order WHERE org_id = $1", shop.org_id) == 20
    assert await _inventory(pg, product["id"]) == (1000, 20)


async def test_twins_of_a_checkout_for_the_last_unit_are_never_told_out_of_stock(
    app_client: httpx.AsyncClient, db: Database, pg: asyncpg.Connection
) -> None:
    """The key is claimed with the checkout's last statement: a twin refused earlier (no stock left, the
    first took it) must still answer as the key's holder does, not `out_of_stock`."""
    shop = await make_tenant(db, "Last unit twins")
    for _ in range(5):
        product = await make_product(db, shop, on_hand=1)
        body = order_body((str(product["sku"]), 1))
        idem = key()
        responses = await asyncio.gather(*(place(app_client, shop.storefront_key, body, idem) for _ in range(20)))
        created = [r for r in responses if r.status_code == 201]
        assert created and {r.content for r in created} == {created[0].content}, [r.text for r in responses[:3]]
        refused = {r.json()["code"] for r in responses if r.status_code != 201}
        assert refused <= {"idempotency_key_in_flight"}, refused
        retry = await place(app_client, shop.storefront_key, body, idem)  # stock is gone now: still the replay
        assert retry.status_code == 201 and retry.content == created[0].content
        assert await _inventory(pg, product["id"]) == (1, 1)
    assert await pg.fetchval("SELECT count(*) FROM orders.order WHERE org_id = $1", shop.org_id) == 5


async def test_200_buyers_for_10_units(app_client: httpx.AsyncClient, db: Database, pg: asyncpg.Connection) -> None:
    shop = await make_tenant(db, "Rush")
    product = await make_product(db, shop, on_hand=10)
    body = order_body((str(product["sku"]), 1))
    responses = await asyncio.gather(*(place(app_client, shop.storefront_key, body) for _ in range(200)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 10, {s: statuses.count(s) for s in set(statuses)}
    refused = [r for r in responses if r.status_code == 409]
    assert len(refused) == 190
    assert all(r.json()["code"] == "out_of_stock" for r in refused)
    assert await _inventory(pg, product["id"]) == (10, 10)
    paid = await pg.fetchval("SELECT count(*) FROM orders.order WHERE org_id = $1 AND status = 'paid'", shop.org_id)
    assert paid == 10


async def test_90_buyers_with_good_declined_and_short_cards_for_10_units_get_only_201_402_409(
    app_client: httpx.AsyncClient, db: Database, pg: asyncpg.Connection
) -> None:
    """Declines release stock while others reserve it: a business outcome each, never a 500."""
    shop = await make_tenant(db, "Mixed rush")
    product = await make_product(db, shop, on_hand=10)
    tokens = ["tok_success", "tok_decline", "tok_insufficient_funds"] * 30
    responses = await asyncio.gather(
        *(place(app_client, shop.storefront_key, order_body((str(product["sku"]), 1), token=t)) for t in tokens)
    )
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {201, 402, 409}, {s: statuses.count(s) for s in set(statuses)}
    paid = await pg.fetchval("SELECT count(*) FROM orders.order WHERE org_id = $1 AND status = 'paid'", shop.org_id)
    assert paid == statuses.count(201) <= 10
    assert statuses.count(402) + statuses.count(409) == 90 - paid
    assert await _inventory(pg, product["id"]) == (10, paid)  # every decline gave its unit back
    pending = "SELECT count(*) FROM orders.order WHERE org_id = $1 AND status = 'pending_payment'"
    assert await pg.fetchval(pending, shop.org_id) == 0


async def _traces(pg: asyncpg.Connection, org_id: str) -> dict[str, int]:
    counts = {}
    for table in ("orders.order", "payments.payment", "platform.idempotency_key", "platform.outbox"):
        counts[table] = await pg.fetchval(f"SELECT count(*) FROM {table} WHERE org_id = $1", org_id)
    counts["reserved"] = await pg.fetchval(
        "SELECT coalesce(sum(i.reserved), 0) FROM catalog.inventory i WHERE i.org_id = $1", org_id
    )
    return counts


async def test_a_checkout_refusable_without_writing_is_refused_before_any_write(
    app_client: httpx.AsyncClient, db: Database, pg: asyncpg.Connection
) -> None:
    shop = await make_tenant(db, "Refused early")
    product = await make_product(db, shop, on_hand=3)
    before = await _traces(pg, shop.org_id)
    good = order_body((str(product["sku"]), 1))
    cases = {
        "unknown provider": (
            {**good, "payment": {"provider": "paypal", "card_token": "tok_success"}},
            "payment.provider",
        ),
        "token the sandbox never takes": ({**good, "payment": {"provider": "sandbox", "card_token": "tok_nope"}}, None),
        "token with a space": ({**good, "payment": {"provider": "sandbox", "card_token": "tok success"}}, None),
        "token with a NUL": ({**good, "payment": {"provider": "sandbox", "card_token": "tok_\u0000"}}, None),
        "unknown SKU": (order_body(("NO-SUCH-SKU", 1)), None),
        "more than the stock": (order_body((str(product["sku"]), 4)), None),
    }
    for name, (body, field) in cases.items():
        response = await place(app_client, shop.storefront_key, body)
        assert 400 <= response.status_code < 500, (name, response.status_code, response.text)
        assert response.headers["content-type"] == "application/problem+json", name
        if field is not None:
            assert any(e["field"] == field for e in response.json()["errors"]), (name, response.text)
        assert await _traces(pg, shop.org_id) == before, name  # no order, payment, key, event or reservation


async def test_a_declined_card_cancels_the_order_and_releases_stock(
    app_client: httpx.AsyncClient, db: Database, tenant: Tenant, pg: asyncpg.Connection
) -> None:
    product = await make_product(db, tenant, on_hand=3)
    idem = key()
    body = order_body((str(product["sku"]), 2), token="tok_decline")
    declined = await place(app_client, tenant.storefront_key, body, idem)
    problem = assert_problem(declined, 402, "payment_declined")
    assert "did not go through: the card was declined (card_declined)" in problem["detail"], problem
    assert await _inventory(pg, product["id"]) == (3, 0)
    status = await pg.fetchval("SELECT status FROM orders.order WHERE id = $1", problem["order_id"])
    assert status == "cancelled"
    replay = await place(app_client, tenant.storefront_key, body, idem)
    assert replay.status_code == 402
    assert replay.content == declined.content


async def test_fulfil_deliver_and_refund(
    app_client: httpx.AsyncClient, db: Database, tenant: Tenant, pg: asyncpg.Connection
) -> None:
    product = await make_product(db, tenant, price=10_000, on_hand=2)
    order = (await place(app_client, tenant.storefront_key, order_body((str(product["sku"]), 1)))).json()
    owner = bearer(tenant.owner_key)
    shipped = await app_client.post(
        f"/v1/orders/{order['id']}/fulfill", headers=owner, json={"carrier": "DHL", "tracking_number": "123"}
    )
    assert shipped.json()["status"] == "fulfilled", shipped.text
    assert await _inventory(pg, product["id"]) == (1, 0)  # the reserved unit left the warehouse
    delivered = await app_client.post(f"/v1/orders/{order['id']}/deliver", headers=owner)
    assert delivered.json()["status"] == "delivered"
    invalid = await app_client.post(f"/v1/orders/{order['id']}/cancel", headers=owner)
    problem = assert_problem(invalid, 409, "invalid_transition")
    assert "refunded instead" in str(problem["detail"])
    refund = await app_client.post(
        f"/v1/orders/{order['id']}/refunds", headers={**owner, "Idempotency-Key": key()}, json={"amount": 2_500}
    )
    assert refund.status_code == 201, refund.text
    assert refund.json()["order"]["status"] == "partially_refunded"
    rest = await app_client.post(
        f"/v1/orders/{order['id']}/refunds", headers={**owner, "Idempotency-Key": key()}, json={"amount": 7_500}
    )
    assert rest.json()["order"]["status"] == "refunded"
    too_much = await app_client.post(
        f"/v1/orders/{order['id']}/refunds", headers={**owner, "Idempotency-Key": key()}, json={"amount": 1}
    )
    assert too_much.status_code == 409
    assert_problem(
        await app_client.post(f"/v1/orders/{order['id']}/refunds", headers=owner, json={"amount": 1}),
        400,
        "idempotency_key_required",
    )


async def test_50_concurrent_ten_percent_refunds_exactly_ten_succeed(
    app_client: httpx.AsyncClient, db: Database, tenant: Tenant, pg: asyncpg.Connection
) -> None:
    product = await make_product(db, tenant, price=10_000, on_hand=1)
    order = (await place(app_client, tenant.storefront_key, order_body((str(product["sku"]), 1)))).json()
    owner = bearer(tenant.owner_key)
    responses = await asyncio.gather(
        *(
            app_client.post(
                f"/v1/orders/{order['id']}/refunds", headers={**owner, "Idempotency-Key": key()}, json={"amount": 1_000}
            )
            for _ in range(50)
        )
    )
    assert sorted(r.status_code for r in responses).count(201) == 10, {r.status_code for r in responses}
    assert all(r.status_code in (201, 409) for r in responses)
    final = (await app_client.get(f"/v1/orders/{order['id']}", headers=owner)).json()
    assert final["status"] == "refunded"
    assert final["refunded"]["amount"] == 10_000


async def test_cancel_voids_and_releases(app_client: httpx.AsyncClient, db: Database) -> None:
    shop = await make_tenant(db, "Later capture")
    owner = bearer(shop.owner_key)
    assert (
        await app_client.patch("/v1/orgs/me", headers=owner, json={"capture_mode": "on_fulfillment"})
    ).status_code == 200
    product = await make_product(db, shop, on_hand=4)
    order = (await place(app_client, shop.storefront_key, order_body((str(product["sku"]), 3)))).json()
    assert order["status"] == "paid"
    assert order["capture_mode"] == "on_fulfillment"
    cancelled = await app_client.post(
        f"/v1/orders/{order['id']}/cancel", headers=owner, json={"reason": "customer asked"}
    )
    assert cancelled.json()["status"] == "cancelled", cancelled.text
    inventory = (await app_client.get(f"/v1/products/{product['id']}/inventory", headers=owner)).json()
    assert inventory["reserved"] == 0
    payment = await app_client.get("/v1/orders/" + order["id"], headers=owner)
    assert payment.json()["cancel_reason"] == "customer asked"
    again = await app_client.post(
        f"/v1/orders/{order['id']}/fulfill", headers=owner, json={"carrier": "x", "tracking_number": "y"}
    )
    problem = assert_problem(again, 409, "invalid_transition")
    assert problem["current_state"] == "cancelled"
    assert problem["target_state"] == "fulfilled"


async def test_cancelling_a_paid_unshipped_order_refunds_the_capture_once_and_releases_its_stock(
    app_client: httpx.AsyncClient, db: Database, pg: asyncpg.Connection
) -> None:
    shop = await make_tenant(db, "Cancel captured")
    owner = bearer(shop.owner_key)
    product = await make_product(db, shop, price=2500, on_hand=4)
    order = (await place(app_client, shop.storefront_key, order_body((str(product["sku"]), 2)))).json()
    assert (order["status"], order["capture_mode"]) == ("paid", "immediate")
    answers = await asyncio.gather(
        *(
            app_client.post(f"/v1/orders/{order['id']}/cancel", headers=owner, json={"reason": "customer asked"})
            for _ in range(3)
        )
    )  # a retried (and a double-clicked) cancel
    assert {a.status_code for a in answers} == {200}, [a.text for a in answers]
    assert {a.json()["status"] for a in answers} == {"cancelled"}
    final = (await app_client.get(f"/v1/orders/{order['id']}", headers=owner)).json()
    assert final["refunded"]["amount"] == 5000
    payment = await pg.fetchrow(
        "SELECT status, captured_amount, refunded_amount FROM payments.payment WHERE order_id = $1", order["id"]
    )
    assert dict(payment) == {"status": "captured", "captured_amount": 5000, "refunded_amount": 5000}
    refunds = await pg.fetchval(
        "SELECT count(*) FROM payments.sandbox_ledger l JOIN payments.payment p ON p.provider_ref = l.charge_id "
        "WHERE p.order_id = $1 AND l.operation = 'refund'",
        order["id"],
    )
    assert refunds == 1  # refunded once at the provider, however often the cancel was sent
    assert await _inventory(pg, product["id"]) == (4, 0)


async def test_a_shipped_order_is_refunded_not_cancelled(app_client: httpx.AsyncClient, db: Database) -> None:
    shop = await make_tenant(db, "Shipped")
    owner = bearer(shop.owner_key)
    product = await make_product(db, shop, on_hand=2)
    order = (await place(app_client, shop.storefront_key, order_body((str(product["sku"]), 1)))).json()
    shipped = await app_client.post(
        f"/v1/orders/{order['id']}/fulfill", headers=owner, json={"carrier": "DHL", "tracking_number": "1"}
    )
    assert shipped.status_code == 200
    refused = await app_client.post(f"/v1/orders/{order['id']}/cancel", headers=owner, json={})
    assert_problem(refused, 409, "invalid_transition")
    again = (await app_client.get(f"/v1/orders/{order['id']}", headers=owner)).json()
    assert (again["status"], again["refunded"]["amount"]) == ("fulfilled", 0)
