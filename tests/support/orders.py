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


async def place(client: httpx.AsyncClient, api_key: str, body: dict[str, Any], idem: str | None = None) -> httpx.Response:
    return await client.post("/v1/orders", headers={**bearer(api_key), "Idempotency-Key": idem or key()}, json=body)
