"""Order bodies and helpers for checkout tests."""

from __future__ import annotations

import secrets
from typing import Any

import httpx

from tests.support.identity import bearer


def order_body(*lines: tuple[str, int], token: str = "tok_success", shipping: int = 0) -> dict[str, Any]:
    return {
        "lines": [{"sku": sku, "quantity": qty} for sku, qty in lines],
        "shipping_amount": shipping,
        "customer": {"email": "buyer@example.com", "name": "Ada Buyer", "phone": "+4915112345678"},
        "shipping_address": {"line1": "Main St 1", "city": "Berlin", "postal_code": "10115", "country": "DE"},
        "payment": {"provider": "sandbox", "card_token": token},
    }


def key() -> str:
    return f"key-{secrets.token_hex(8)}"


async def place(
    client: httpx.AsyncClient, api_key: str, body: dict[str, Any], idem: str | None = None
) -> httpx.Response:
    return await client.post("/v1/orders", headers={**bearer(api_key), "Idempotency-Key": idem or key()}, json=body)


ORDER_CHARGES = (
    "SELECT count(*) FROM payments.sandbox_ledger l JOIN payments.payment p "
    "ON l.idempotency_key = 'emporium:' || p.id || ':authorize' "
    "WHERE p.order_id = $1 AND l.operation = 'authorize' AND l.outcome = 'authorized'"
)


async def order_charges(pg: Any, order_id: str) -> int:
    """Successful sandbox authorizations (real charges) made for an order, over all its payments."""
    return int(await pg.fetchval(ORDER_CHARGES, order_id))


ORDER_CAPTURES = (
    "SELECT count(*) FROM payments.sandbox_ledger c JOIN payments.sandbox_ledger a ON a.charge_id = c.charge_id "
    "JOIN payments.payment p ON a.idempotency_key = 'emporium:' || p.id || ':authorize' "
    "WHERE p.order_id = $1 AND a.operation = 'authorize' AND c.operation = 'capture'"
)


async def order_captures(pg: Any, order_id: str) -> int:
    """Captures the sandbox made for an order's charges (at most one per charge)."""
    return int(await pg.fetchval(ORDER_CAPTURES, order_id))
