"""Random sequences of order operations never reach an invalid state; totals always equal the sum of
the lines; refunds never exceed what was captured."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emporium.modules.orders import workflows as orders_wf
from emporium.modules.orders.domain import TRANSITIONS, OrderStatus
from emporium.modules.orders.workflows import OrderSpec
from emporium.orchestrators import checkout
from emporium.platform.db.engine import Database
from emporium.platform.errors import DomainError
from emporium.platform.idempotency.store import IdempotencyClaim
from tests.support.catalog import make_product
from tests.support.identity import make_tenant, setup_audit
from tests.support.orders import key

actions = st.lists(
    st.one_of(
        st.just(("cancel", 0)),
        st.just(("fulfill", 0)),
        st.just(("deliver", 0)),
        st.tuples(st.just("refund"), st.integers(min_value=1, max_value=6_000)),
    ),
    max_size=8,
)


async def _scenario(
    database_url: str, steps: list[tuple[str, int]], quantities: list[int], capture_later: bool
) -> None:
    db = Database(database_url)
    pg = await asyncpg.connect(database_url)
    try:
        shop = await make_tenant(db, "Props")
        owner = shop.owner_principal
        if capture_later:
            await pg.execute("UPDATE identity.org SET capture_mode = 'on_fulfillment' WHERE id = $1", shop.org_id)
        products = [await make_product(db, shop, price=1_000 + 7 * i, on_hand=50) for i in range(len(quantities))]
        spec = OrderSpec(
            lines=[(str(p["sku"]), q) for p, q in zip(products, quantities, strict=True)],
            customer_email="p@example.com",
            shipping_minor=499,
        )
        placed = await checkout.place_order(
            db, owner, setup_audit(owner), IdempotencyClaim(shop.org_id, key(), "f" * 64), spec,
            checkout.PaymentChoice("sandbox", "tok_success"), reservation_ttl=timedelta(minutes=5),
        )  # fmt: skip
        previous = OrderStatus(placed.order.status)
        for name, amount in steps:
            try:
                if name == "cancel":
                    await checkout.cancel(db, owner, setup_audit(owner), placed.order.id, "prop")
                elif name == "fulfill":
                    await checkout.fulfill(
                        db, owner, setup_audit(owner), placed.order.id, carrier="c", tracking_number="t"
                    )
                elif name == "deliver":
                    await orders_wf.deliver_order(db, owner, setup_audit(owner), placed.order.id)
                else:
                    claim = IdempotencyClaim(shop.org_id, key(), "f" * 64)
                    await checkout.refund(db, owner, setup_audit(owner), claim, placed.order.id, amount)
            except DomainError as refused:
                refusal = refused.status
                assert 400 <= refusal < 500  # refused cleanly, never an unexpected error
            row = await pg.fetchrow(
                "SELECT status, subtotal_amount, shipping_amount, total_amount, refunded_amount, carrier "
                "FROM orders.order WHERE id = $1",
                placed.order.id,
            )
            lines = await pg.fetchval(
                "SELECT sum(line_total_amount) FROM orders.order_line WHERE order_id = $1", placed.order.id
            )
            status = OrderStatus(row["status"])
            assert status == previous or status in TRANSITIONS[previous], (previous, status)
            previous = status
            assert row["subtotal_amount"] == lines
            assert row["total_amount"] == lines + row["shipping_amount"]
            captured = await pg.fetchval(
                "SELECT coalesce(sum(captured_amount), 0) FROM payments.payment WHERE order_id = $1", placed.order.id
            )
            refunded = await pg.fetchval(
                "SELECT coalesce(sum(refunded_amount), 0) FROM payments.payment WHERE order_id = $1", placed.order.id
            )
            assert refunded <= captured
            assert row["refunded_amount"] == refunded
            reserved = await pg.fetchval(
                "SELECT sum(reserved) FROM catalog.inventory WHERE product_id = ANY($1::text[])",
                [p["id"] for p in products],
            )
            # Stock stays reserved exactly while the order may still ship.
            holds = status in {OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED} and row["carrier"] is None
            assert reserved == (sum(quantities) if holds else 0), (status, reserved)
    finally:
        await pg.close()
        await db.dispose()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    steps=actions,
    quantities=st.lists(st.integers(min_value=1, max_value=3), min_size=1, max_size=3),
    capture_later=st.booleans(),
)
def test_random_operation_sequences_keep_the_invariants(
    database_url: str, steps: list[tuple[str, int]], quantities: list[int], capture_later: bool
) -> None:
    asyncio.run(_scenario(database_url, steps, quantities, capture_later))
