"""Payments in known states, made through the payments workflows on the sandbox provider."""

from __future__ import annotations

import base64
from datetime import timedelta

import asyncpg

from emporium.modules.payments import workflows
from emporium.modules.payments.domain import Payment, authorization_key
from emporium.platform.db.engine import Database
from emporium.platform.ids import new_id
from emporium.platform.money import Money

HUNDRED_EUR = Money(10_000, "EUR")
# Webhook secrets of the test app (conftest's Config): Standard Webhooks for the sandbox, Stripe's for stripe.
SANDBOX_WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"sandbox-webhook-secret-for-tests!").decode()
STRIPE_WEBHOOK_SECRET = "whsec_test_stripe_endpoint_secret"


def new_order_id() -> str:
    return new_id("ord")


async def authorized_payment(
    db: Database, org_id: str, amount: Money = HUNDRED_EUR, *, card_token: str = "tok_success"
) -> Payment:
    payment = await workflows.start_authorization(
        db, org_id=org_id, order_id=new_order_id(), amount=amount, card_token=card_token
    )
    return await workflows.authorize(db, org_id=org_id, payment_id=payment.id)


async def captured_payment(db: Database, org_id: str, amount: Money = HUNDRED_EUR) -> Payment:
    payment = await authorized_payment(db, org_id, amount)
    return await workflows.capture(db, org_id=org_id, payment_id=payment.id)


async def ledger_count(pg: asyncpg.Connection, operation: str, charge_or_key: str) -> int:
    """Sandbox ledger rows of `operation` for a charge id or an authorization key."""
    return int(
        await pg.fetchval(
            "SELECT count(*) FROM payments.sandbox_ledger"
            " WHERE operation = $1 AND (charge_id = $2 OR idempotency_key = $2)",
            operation,
            charge_or_key,
        )
    )


async def charges_for(pg: asyncpg.Connection, payment_id: str) -> int:
    """Successful sandbox charges made under this payment's authorization key."""
    return int(
        await pg.fetchval(
            "SELECT count(*) FROM payments.sandbox_ledger WHERE operation = 'authorize' AND outcome = 'authorized'"
            " AND idempotency_key = $1",
            authorization_key(payment_id),
        )
    )


async def events_of(pg: asyncpg.Connection, payment_id: str) -> list[str]:
    rows = await pg.fetch(
        "SELECT name FROM platform.outbox WHERE aggregate_type = 'payment' AND aggregate_id = $1 ORDER BY seq",
        payment_id,
    )
    return [row["name"] for row in rows]


async def backdate(pg: asyncpg.Connection, payment_id: str, by: timedelta) -> None:
    await pg.execute(
        "UPDATE payments.payment SET authorized_at = authorized_at - $2::interval,"
        " created_at = created_at - $2::interval WHERE id = $1",
        payment_id,
        by,
    )
