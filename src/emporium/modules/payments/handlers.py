"""Payments HTTP routes (authenticated). Provider webhooks are public and live in `webhooks.py`."""

from __future__ import annotations

from fastapi import APIRouter, Request

from emporium.modules.payments import workflows
from emporium.modules.payments.permissions import Perm
from emporium.modules.payments.schemas import CaptureIn, PaymentOut
from emporium.platform.auth.gate import GatedRoute, auth_gate
from emporium.platform.http.context import audit_context
from emporium.platform.http.state import database_of

router = APIRouter(route_class=GatedRoute)


@router.get("/v1/payments/{id}", operation_id="payments_get", tags=["payments"])
async def get_payment(request: Request, id: str) -> PaymentOut:
    principal = auth_gate(request, Perm.PAYMENTS_READ)
    return PaymentOut.of(await workflows.get_payment(database_of(request), principal, id))


@router.post("/v1/payments/{id}/capture", operation_id="payments_capture", tags=["payments"])
async def capture_payment(request: Request, id: str, body: CaptureIn | None = None) -> PaymentOut:
    principal = auth_gate(request, Perm.PAYMENTS_WRITE)
    payment = await workflows.capture(
        database_of(request),
        org_id=principal.org_id,
        payment_id=id,
        amount=body.amount.to_money() if body and body.amount else None,
        audit=audit_context(request, principal),
        providers=workflows.providers_of(request.app.state),
    )
    return PaymentOut.of(payment)
