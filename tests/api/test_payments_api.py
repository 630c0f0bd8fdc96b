"""Payments over HTTP: reading and capturing, and inbound provider webhooks (signatures, dedupe, ordering)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import standardwebhooks

from emporium.bootstrap.app import create_app
from emporium.bootstrap.modules import INSTALLED
from emporium.modules.identity.domain import Role
from emporium.modules.payments import workflows
from emporium.modules.payments.domain import PaymentStatus
from emporium.modules.payments.webhooks import router as webhooks_router
from emporium.platform.auth.gate import GatedRoute
from emporium.platform.db.engine import Database
from emporium.platform.money import Money
from tests.support.identity import Tenant
from tests.support.payments import (
    SANDBOX_WEBHOOK_SECRET,
    STRIPE_WEBHOOK_SECRET,
    authorized_payment,
    events_of,
    new_order_id,
)

SANDBOX_HOOK = "/v1/provider-webhooks/sandbox"
STRIPE_HOOK = "/v1/provider-webhooks/stripe"


def sandbox_event(
    event_type: str, payment_id: str, *, event_id: str | None = None, at: datetime | None = None, **data: Any
) -> tuple[bytes, dict[str, str]]:
    event_id = event_id or f"msg_{secrets.token_hex(8)}"
    at = at or datetime.now(UTC)
    body = json.dumps({"type": event_type, "data": {"payment_id": payment_id, **data}})
    signature = standardwebhooks.Webhook(SANDBOX_WEBHOOK_SECRET).sign(event_id, at, body)
    headers = {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
    }
    return body.encode(), headers


def stripe_event(
    event_type: str, intent: dict[str, Any], *, at: int | None = None, secret: str = STRIPE_WEBHOOK_SECRET
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {"id": f"evt_{secrets.token_hex(8)}", "object": "event", "type": event_type, "data": {"object": intent}}
    )
    timestamp = at or int(time.time())
    digest = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return body.encode(), {"Stripe-Signature": f"t={timestamp},v1={digest}", "content-type": "application/json"}


async def _pending(db: Database, tenant: Tenant, provider: str = "sandbox") -> str:
    payment = await workflows.start_authorization(
        db,
        org_id=tenant.org_id,
        order_id=new_order_id(),
        amount=Money(3_000, "EUR"),
        card_token="tok_success",
        provider=provider,
    )
    return payment.id


# --- authenticated routes ---------------------------------------------------------------------------


async def test_read_and_capture_a_payment(app_client: httpx.AsyncClient, db: Database, tenant: Tenant) -> None:
    payment = await authorized_payment(db, tenant.org_id, Money(2_000, "EUR"))
    headers = tenant.headers_for(Role.ADMIN)
    read = await app_client.get(f"/v1/payments/{payment.id}", headers=headers)
    assert read.status_code == 200
    assert read.json()["status"] == "authorized"
    assert read.json()["authorized"] == {"amount": 2000, "currency": "EUR", "formatted": "20.00 EUR"}

    too_much = await app_client.post(
        f"/v1/payments/{payment.id}/capture", json={"amount": {"amount": 2001, "currency": "EUR"}}, headers=headers
    )
    assert too_much.status_code == 409
    assert too_much.headers["content-type"] == "application/problem+json"
    assert too_much.json()["code"] == "capture_exceeds_authorization"

    done = await app_client.post(
        f"/v1/payments/{payment.id}/capture", json={"amount": {"amount": 1500, "currency": "EUR"}}, headers=headers
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "captured" and done.json()["captured"]["amount"] == 1500


async def test_capturing_a_declined_payment_names_both_states(
    app_client: httpx.AsyncClient, db: Database, tenant: Tenant
) -> None:
    payment = await authorized_payment(db, tenant.org_id, card_token="tok_decline")
    response = await app_client.post(f"/v1/payments/{payment.id}/capture", headers=tenant.headers_for(Role.OWNER))
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "invalid_transition"
    assert (body["current_state"], body["target_state"]) == ("declined", "captured")


# --- provider webhooks ------------------------------------------------------------------------------


def test_the_webhook_route_is_public_and_not_gated() -> None:
    assert [getattr(r, "path", None) for r in webhooks_router.routes] == ["/v1/provider-webhooks/{provider}"]
    assert not any(isinstance(r, GatedRoute) for r in webhooks_router.routes)
    assert ("POST", "/v1/provider-webhooks/{provider}") in INSTALLED.public_routes
    assert "/v1/provider-webhooks/{provider}" in create_app().openapi()["paths"]


async def test_a_signed_sandbox_event_moves_a_pending_payment(
    app_client: httpx.AsyncClient, db: Database, tenant: Tenant, pg: asyncpg.Connection
) -> None:
    payment_id = await _pending(db, tenant)
    body, headers = sandbox_event("payment.authorized", payment_id, amount=3_000, provider_ref="ch_from_hook")
    response = await app_client.post(SANDBOX_HOOK, content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"event_id": headers["webhook-id"], "outcome": "moved:authorized"}
    payment = await workflows.get_payment(db, tenant.owner_principal, payment_id)
    assert payment.status is PaymentStatus.AUTHORIZED and payment.provider_ref == "ch_from_hook"
    assert await events_of(pg, payment_id) == ["payments.payment_authorized"]

    replay = await app_client.post(SANDBOX_HOOK, content=body, headers=headers)
    assert replay.status_code == 200 and replay.json()["outcome"] == "duplicate"
    assert await events_of(pg, payment_id) == ["payments.payment_authorized"]


async def test_bad_signatures_and_old_timestamps_are_401(
    app_client: httpx.AsyncClient, db: Database, tenant: Tenant
) -> None:
    payment_id = await _pending(db, tenant)
    body, headers = sandbox_event("payment.authorized", payment_id)
    forged = {**headers, "webhook-signature": "v1," + "A" * 44}
    tampered = body.replace(b"payment.authorized", b"payment.captured!!")
    old_body, old_headers = sandbox_event(
        "payment.authorized", payment_id, at=datetime.now(UTC) - timedelta(seconds=301)
    )
    for content, sent in ((body, forged), (tampered, headers), (old_body, old_headers), (body, {})):
        response = await app_client.post(SANDBOX_HOOK, content=content, headers=sent)
        assert response.status_code == 401, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "invalid_signature"
    assert (await workflows.get_payment(db, tenant.owner_principal, payment_id)).status is PaymentStatus.PENDING


async def test_unknown_provider_is_404_and_garbage_is_never_500(app_client: httpx.AsyncClient) -> None:
    unknown = await app_client.post("/v1/provider-webhooks/paypal", content=b"{}")
    assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_provider"
    for path in (SANDBOX_HOOK, STRIPE_HOOK):
        for content in (b"", b"\xff\xfe not json", b"[]"):
            response = await app_client.post(
                path, content=content, headers={"webhook-id": "x", "Stripe-Signature": "t=1"}
            )
            assert response.status_code == 401, (path, content, response.text)
    # A correctly signed body that is not an event about a payment is accepted and ignored.
    event_id = f"msg_{secrets.token_hex(4)}"
    now = datetime.now(UTC)
    signed = standardwebhooks.Webhook(SANDBOX_WEBHOOK_SECRET).sign(event_id, now, "[1, 2]")
    odd = await app_client.post(
        SANDBOX_HOOK,
        content=b"[1, 2]",
        headers={"webhook-id": event_id, "webhook-timestamp": str(int(now.timestamp())), "webhook-signature": signed},
    )
    assert odd.status_code == 200 and odd.json()["outcome"] == "ignored"


async def test_out_of_order_events_never_move_a_payment_backwards(
    app_client: httpx.AsyncClient, db: Database, tenant: Tenant, pg: asyncpg.Connection
) -> None:
    payment_id = await _pending(db, tenant)
    authorized = sandbox_event("payment.authorized", payment_id, amount=3_000, provider_ref="ch_1")
    voided = sandbox_event("payment.voided", payment_id, provider_ref="ch_1")
    # The void is delivered first: it implies the authorization, so the payment goes through it.
    first = await app_client.post(SANDBOX_HOOK, content=voided[0], headers=voided[1])
    assert first.json()["outcome"] == "moved:authorized,voided"
    late = await app_client.post(SANDBOX_HOOK, content=authorized[0], headers=authorized[1])
    assert late.status_code == 200 and late.json()["outcome"] == "stale"
    assert (await workflows.get_payment(db, tenant.owner_principal, payment_id)).status is PaymentStatus.VOIDED
    assert await events_of(pg, payment_id) == ["payments.payment_authorized", "payments.payment_voided"]

    # A payment we captured ignores a late "authorized" and a "declined".
    captured = await authorized_payment(db, tenant.org_id)
    await workflows.capture(db, org_id=tenant.org_id, payment_id=captured.id)
    for event_type in ("payment.authorized", "payment.declined", "payment.voided"):
        body, headers = sandbox_event(event_type, captured.id)
        response = await app_client.post(SANDBOX_HOOK, content=body, headers=headers)
        assert response.json()["outcome"] == "stale"
    assert (await workflows.get_payment(db, tenant.owner_principal, captured.id)).status is PaymentStatus.CAPTURED


async def test_concurrent_copies_of_one_event_apply_once(
    app_client: httpx.AsyncClient, db: Database, tenant: Tenant, pg: asyncpg.Connection
) -> None:
    payment_id = await _pending(db, tenant)
    body, headers = sandbox_event("payment.authorized", payment_id, amount=3_000, provider_ref="ch_x")
    responses = await asyncio.gather(*(app_client.post(SANDBOX_HOOK, content=body, headers=headers) for _ in range(8)))
    outcomes = sorted(r.json()["outcome"] for r in responses)
    assert outcomes == ["duplicate"] * 7 + ["moved:authorized"]
    assert await events_of(pg, payment_id) == ["payments.payment_authorized"]


async def test_stripe_signed_events(app_client: httpx.AsyncClient, db: Database, tenant: Tenant) -> None:
    payment_id = await _pending(db, tenant, provider="sandbox")
    stripe_payment = await workflows.start_authorization(
        db,
        org_id=tenant.org_id,
        order_id=new_order_id(),
        amount=Money(3_000, "EUR"),
        card_token="pm_card_visa",
        provider="stripe",
    )
    intent = {
        "id": "pi_hook_1",
        "object": "payment_intent",
        "amount": 3000,
        "amount_capturable": 3000,
        "currency": "eur",
        "status": "requires_capture",
        "metadata": {"payment_id": stripe_payment.id},
    }
    body, headers = stripe_event("payment_intent.amount_capturable_updated", intent)
    response = await app_client.post(STRIPE_HOOK, content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "moved:authorized"
    moved = await workflows.get_payment(db, tenant.owner_principal, stripe_payment.id)
    assert moved.status is PaymentStatus.AUTHORIZED and moved.provider_ref == "pi_hook_1"

    # A Stripe event naming a sandbox payment does not touch it.
    other = stripe_event("payment_intent.canceled", {**intent, "metadata": {"payment_id": payment_id}})
    assert (await app_client.post(STRIPE_HOOK, content=other[0], headers=other[1])).json()["outcome"] == (
        "unknown_payment"
    )
    old = stripe_event("payment_intent.canceled", intent, at=int(time.time()) - 301)
    wrong = stripe_event("payment_intent.canceled", intent, secret="whsec_someone_else")
    for content, sent in (old, wrong):
        refused = await app_client.post(STRIPE_HOOK, content=content, headers=sent)
        assert refused.status_code == 401 and refused.json()["code"] == "invalid_signature"
