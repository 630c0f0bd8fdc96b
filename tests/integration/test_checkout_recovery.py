"""A fault after any checkout step is finished or compensated by recovery.

Every order ends in exactly one of: paid with one charge — captured, for an org that
captures immediately (checked on the payment row and in the provider's ledger, not only
on the order), authorized for capture at shipping — or cancelled with its stock released
and nothing charged. Recovery also finishes the idempotency record: no key stays in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from emporium.modules.orders import jobs as orders_jobs
from emporium.modules.orders import workflows as orders_wf
from emporium.modules.orders.workflows import OrderSpec
from emporium.modules.payments import workflows as payments_wf
from emporium.orchestrators import checkout, recovery
from emporium.platform.db.engine import Database
from emporium.platform.errors import PaymentDeclined
from emporium.platform.idempotency.store import IdempotencyClaim
from tests.support.catalog import make_product
from tests.support.identity import make_tenant, setup_audit
from tests.support.orders import key, order_captures, order_charges


class Injected(RuntimeError):
    pass


def _fail_before(*_: Any, **__: Any) -> Any:
    raise Injected("the process died before this step")


def _fail_after(real: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    async def step(*args: Any, **kwargs: Any) -> Any:
        await real(*args, **kwargs)
        raise Injected("the process died right after this step")

    return step


# Where the process dies: (module, step, before or after it).
FAULTS: dict[str, tuple[Any, str, str]] = {
    "in_tx1": (orders_wf.store, "open_payment", "before"),  # tx1 rolls back: nothing was placed
    "after_tx1": (payments_wf, "charge", "before"),  # placed; the provider never called
    "after_provider_call": (payments_wf, "charge", "after"),  # charged; the answer lost with the process
    "in_tx2": (orders_wf.store, "move_status_at_commit", "before"),  # the success's transaction rolls back
    "in_tx2_of_a_decline": (orders_wf.store, "move_status", "before"),  # the refusal's transaction rolls back
    "after_tx2": (checkout, "Checkout", "before"),  # settled; the process died before answering
}


async def _final_state(pg: asyncpg.Connection, order_id: str, product_id: object) -> dict[str, Any]:
    payments = await pg.fetch(
        "SELECT status, captured_amount, amount FROM payments.payment WHERE order_id = $1", order_id
    )
    return {
        "order": await pg.fetchval("SELECT status FROM orders.order WHERE id = $1", order_id),
        "charges": await order_charges(pg, order_id),
        "captures": await order_captures(pg, order_id),
        "payments": sorted(r["status"] for r in payments),
        "captured_in_full": all(r["captured_amount"] == r["amount"] for r in payments if r["status"] == "captured"),
        "reserved": await pg.fetchval("SELECT reserved FROM catalog.inventory WHERE product_id = $1", product_id),
        "keys_in_flight": await pg.fetchval(
            "SELECT count(*) FROM platform.idempotency_key WHERE resource_id = $1 AND status = 'in_flight'", order_id
        ),
    }


def _check_ended_well(state: dict[str, Any], *, immediate: bool, quantity: int) -> None:
    if state["order"] == "paid":
        assert state["charges"] == 1, state
        assert state["reserved"] == quantity, state
        if immediate:  # "captured = paid": the payment resource and the provider agree
            assert state["payments"] == ["captured"] and state["captures"] == 1, state
            assert state["captured_in_full"], state
        else:
            assert state["payments"] == ["authorized"] and state["captures"] == 0, state
    else:
        assert state["order"] == "cancelled", state
        assert state["reserved"] == 0, state
        assert state["charges"] == 0 and state["captures"] == 0, state
    assert state["keys_in_flight"] == 0, state


@pytest.mark.parametrize("capture_mode", ["immediate", "on_fulfillment"])
@pytest.mark.parametrize("fault", [*FAULTS, "ambiguous_provider_answer", "declined"])
async def test_every_fault_ends_paid_once_or_released(
    fault: str, capture_mode: str, db: Database, pg: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = await make_tenant(db, f"Fault {fault}")
    await pg.execute("UPDATE identity.org SET capture_mode = $1 WHERE id = $2", capture_mode, shop.org_id)
    product = await make_product(db, shop, on_hand=5)
    owner = shop.owner_principal
    token = {
        "ambiguous_provider_answer": "tok_drop",
        "declined": "tok_decline",
        "in_tx2_of_a_decline": "tok_decline",
    }.get(fault, "tok_success")
    spec = OrderSpec(lines=[(str(product["sku"]), 2)], customer_email="c@example.com")
    claim = IdempotencyClaim(shop.org_id, key(), "f" * 64)
    if fault in FAULTS:
        module, name, when = FAULTS[fault]
        monkeypatch.setattr(module, name, _fail_before if when == "before" else _fail_after(getattr(module, name)))
    outcome: Any = None
    with contextlib.suppress(Injected, PaymentDeclined):
        outcome = await checkout.place_order(
            db, owner, setup_audit(owner), claim, spec, checkout.PaymentChoice("sandbox", token),
            reservation_ttl=timedelta(minutes=15),
        )  # fmt: skip
    monkeypatch.undo()
    if fault == "ambiguous_provider_answer":
        assert outcome is not None and not outcome.settled  # the answer was lost: the order waits

    await orders_jobs.recover_checkouts(db, unknown_after=timedelta(0))
    order_id = await pg.fetchval("SELECT id FROM orders.order WHERE org_id = $1", shop.org_id)
    if order_id is None:  # the first transaction never committed: no order, no stock held, no key
        assert fault == "in_tx1"
        assert await pg.fetchval("SELECT reserved FROM catalog.inventory WHERE product_id = $1", product["id"]) == 0
        assert await pg.fetchval("SELECT count(*) FROM platform.idempotency_key WHERE key = $1", claim.key) == 0
        return
    state = await _final_state(pg, order_id, product["id"])
    _check_ended_well(state, immediate=capture_mode == "immediate", quantity=2)
    expected = "cancelled" if fault in {"declined", "in_tx2_of_a_decline"} else "paid"
    assert state["order"] == expected, state
    # A second pass changes nothing.
    await orders_jobs.recover_checkouts(db, unknown_after=timedelta(0))
    assert await _final_state(pg, order_id, product["id"]) == state


async def test_a_retry_after_recovery_gets_the_order_or_places_it_again(db: Database, pg: asyncpg.Connection) -> None:
    """Paid: the key replays the order. Cancelled without a charge: the key is released, so a retry places it."""
    shop = await make_tenant(db, "Retry")
    product = await make_product(db, shop, on_hand=5)
    owner = shop.owner_principal
    spec = OrderSpec(lines=[(str(product["sku"]), 1)], customer_email="r@example.com")
    declined = IdempotencyClaim(shop.org_id, key(), "d" * 64)
    placed = await orders_wf.place_order(
        db, owner, setup_audit(owner), declined, spec, orders_wf.PaymentChoice("sandbox", "tok_decline"),
        reservation_ttl=timedelta(minutes=5),
    )  # fmt: skip
    await orders_jobs.recover_checkouts(db, unknown_after=timedelta(0))
    state = await _final_state(pg, placed.order.id, product["id"])
    assert state["order"] == "cancelled" and state["reserved"] == 0
    assert await pg.fetchval("SELECT count(*) FROM platform.idempotency_key WHERE key = $1", declined.key) == 0


async def test_an_expired_reservation_whose_payment_never_started_is_settled(
    db: Database, pg: asyncpg.Connection
) -> None:
    """An order past its reservation is settled by asking the provider by our key: here it never saw the
    charge, so the charge is made once (the client was told 202) and the order ends paid and captured."""
    shop = await make_tenant(db, "Expiry")
    product = await make_product(db, shop, on_hand=3)
    owner = shop.owner_principal
    spec = OrderSpec(lines=[(str(product["sku"]), 1)], customer_email="e@example.com")
    placed = await orders_wf.place_order(
        db, owner, setup_audit(owner), None, spec, orders_wf.PaymentChoice("sandbox", "tok_success"),
        reservation_ttl=timedelta(seconds=-1),
    )  # fmt: skip
    await recovery.recover_checkouts(db, unknown_after=timedelta(hours=1))
    state = await _final_state(pg, placed.order.id, product["id"])
    _check_ended_well(state, immediate=True, quantity=1)
    assert state["order"] == "paid"


async def test_concurrent_recovery_passes_do_not_double_anything(db: Database, pg: asyncpg.Connection) -> None:
    shop = await make_tenant(db, "Twice")
    product = await make_product(db, shop, on_hand=10)
    owner = shop.owner_principal
    ids = []
    for _ in range(5):
        result = await checkout.place_order(
            db, owner, setup_audit(owner), IdempotencyClaim(shop.org_id, key(), "f" * 64),
            OrderSpec(lines=[(str(product["sku"]), 1)], customer_email="t@example.com"),
            checkout.PaymentChoice("sandbox", "tok_drop"), reservation_ttl=timedelta(minutes=5),
        )  # fmt: skip
        assert not result.settled  # tok_drop leaves the outcome unknown
        ids.append(result.order.id)
    await asyncio.gather(*(orders_jobs.recover_checkouts(db, unknown_after=timedelta(0)) for _ in range(3)))
    for order_id in ids:
        state = await _final_state(pg, order_id, product["id"])
        _check_ended_well(state, immediate=True, quantity=5)  # the product's reservations: all five orders
        assert state["order"] == "paid"
    assert await pg.fetchval("SELECT reserved FROM catalog.inventory WHERE product_id = $1", product["id"]) == 5


async def test_settling_one_success_three_times_at_once_applies_it_once(db: Database, pg: asyncpg.Connection) -> None:
    """tx2's one-statement path: the losers' row checks roll them back, and they read the winner's order."""
    shop = await make_tenant(db, "Settle thrice")
    product = await make_product(db, shop, on_hand=5)
    owner = shop.owner_principal
    spec = OrderSpec(lines=[(str(product["sku"]), 1)], customer_email="s@example.com")
    placed = await orders_wf.place_order(
        db, owner, setup_audit(owner), None, spec, orders_wf.PaymentChoice("sandbox", "tok_success"),
        reservation_ttl=timedelta(minutes=5),
    )  # fmt: skip
    result = await payments_wf.charge(db, placed.payment, placed.card_token, capture=True)
    settled = await asyncio.gather(
        *(orders_wf.settle_checkout(db, placed.order, placed.payment, result) for _ in range(3))
    )
    assert {o.status.value for o in settled} == {"paid"}
    assert len({o.version for o in settled}) == 1  # the losers read the winner's order
    state = await _final_state(pg, placed.order.id, product["id"])
    _check_ended_well(state, immediate=True, quantity=1)
    events = await pg.fetch(
        "SELECT name FROM platform.outbox WHERE aggregate_id = ANY($1) ORDER BY seq",
        [placed.order.id, placed.payment.id],
    )
    assert sorted(r["name"] for r in events) == sorted(
        ["orders.order_created", "payments.payment_authorized", "payments.payment_captured", "orders.order_paid"]
    )
