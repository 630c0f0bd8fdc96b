"""A failure after any checkout step is finished or compensated by recovery: the order ends paid with
exactly one charge, or cancelled with its stock released and no charge standing."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from emporium.modules.orders import workflows as orders_wf
from emporium.modules.orders.workflows import OrderSpec
from emporium.modules.payments import workflows as payments_wf
from emporium.orchestrators import checkout, recovery
from emporium.platform.db.engine import Database
from emporium.platform.errors import PaymentDeclined
from emporium.platform.idempotency.store import IdempotencyClaim
from tests.support.catalog import make_product
from tests.support.identity import make_tenant, setup_audit
from tests.support.orders import key, order_charges


class Injected(RuntimeError):
    pass


def _boom(*_: Any, **__: Any) -> Any:
    raise Injected("injected failure")


STEPS: dict[str, tuple[Any, str]] = {
    "after_order_placed": (payments_wf, "start_authorization"),
    "after_payment_started": (payments_wf, "authorize"),
    "after_authorized": (orders_wf, "mark_paid"),
    "after_marked_paid": (payments_wf, "capture"),
}


async def _final_state(pg: asyncpg.Connection, order_id: str, product_id: object) -> tuple[str, int, list[str], int]:
    status = await pg.fetchval("SELECT status FROM orders.order WHERE id = $1", order_id)
    charges = await order_charges(pg, order_id)
    payment_statuses = [
        r["status"] for r in await pg.fetch("SELECT status FROM payments.payment WHERE order_id = $1", order_id)
    ]
    reserved = await pg.fetchval("SELECT reserved FROM catalog.inventory WHERE product_id = $1", product_id)
    return status, int(charges), payment_statuses, int(reserved)


@pytest.mark.parametrize("step", [*sorted(STEPS), "ambiguous_provider_answer"])
async def test_recovery_finishes_or_compensates_after_a_failure(
    step: str, db: Database, pg: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = await make_tenant(db, f"Crash {step}")
    product = await make_product(db, shop, on_hand=5)
    owner = shop.owner_principal
    token = "tok_drop" if step == "ambiguous_provider_answer" else "tok_success"
    spec = OrderSpec(lines=[(str(product["sku"]), 2)], customer_email="c@example.com")
    claim = IdempotencyClaim(shop.org_id, key(), "f" * 64)
    if step in STEPS:
        module, name = STEPS[step]
        monkeypatch.setattr(module, name, _boom)
    outcome: Any = None
    with contextlib.suppress(Injected):
        outcome = await checkout.place_order(
            db, owner, setup_audit(owner), claim, spec, checkout.PaymentChoice("sandbox", token),
            reservation_ttl=timedelta(minutes=15),
        )  # fmt: skip
    monkeypatch.undo()
    if step == "ambiguous_provider_answer":
        assert outcome is not None and not outcome.settled  # the answer was lost: the order waits

    report = await recovery.recover_checkouts(db, unknown_after=timedelta(0))
    order_id = await pg.fetchval("SELECT resource_id FROM platform.idempotency_key WHERE key = $1", claim.key)
    status, charges, payments, reserved = await _final_state(pg, order_id, product["id"])
    if status == "paid":
        assert charges == 1, (step, payments)
        assert reserved == 2
        assert sum(1 for s in payments if s in {"authorized", "captured"}) == 1
    else:
        assert status == "cancelled", (step, status, report)
        assert reserved == 0
        assert not any(s in {"authorized", "captured"} for s in payments), payments
    # A second pass changes nothing.
    await recovery.recover_checkouts(db, unknown_after=timedelta(0))
    assert await _final_state(pg, order_id, product["id"]) == (status, charges, payments, reserved)


async def test_an_expired_reservation_is_cancelled_and_released(db: Database, pg: asyncpg.Connection) -> None:
    shop = await make_tenant(db, "Expiry")
    product = await make_product(db, shop, on_hand=3)
    owner = shop.owner_principal
    spec = OrderSpec(lines=[(str(product["sku"]), 1)], customer_email="e@example.com")
    placed = await orders_wf.place_order(
        db, owner, setup_audit(owner), None, spec, reservation_ttl=timedelta(seconds=-1)
    )
    await recovery.recover_checkouts(db, unknown_after=timedelta(hours=1))
    status, _, _, reserved = await _final_state(pg, placed.id, product["id"])
    assert (status, reserved) == ("cancelled", 0)


async def test_concurrent_recovery_passes_do_not_double_anything(db: Database, pg: asyncpg.Connection) -> None:
    shop = await make_tenant(db, "Twice")
    product = await make_product(db, shop, on_hand=10)
    owner = shop.owner_principal
    ids = []
    for _ in range(5):
        try:
            result = await checkout.place_order(
                db, owner, setup_audit(owner), IdempotencyClaim(shop.org_id, key(), "f" * 64),
                OrderSpec(lines=[(str(product["sku"]), 1)], customer_email="t@example.com"),
                checkout.PaymentChoice("sandbox", "tok_drop"), reservation_ttl=timedelta(minutes=5),
            )  # fmt: skip
            ids.append(result.order.id)
        except PaymentDeclined:
            pytest.fail("tok_drop must leave the outcome unknown, not declined")
    await asyncio.gather(*(recovery.recover_checkouts(db, unknown_after=timedelta(0)) for _ in range(3)))
    for order_id in ids:
        status, charges, payments, _ = await _final_state(pg, order_id, product["id"])
        assert status == "paid"
        assert charges == 1
        assert payments.count("captured") + payments.count("authorized") == 1
