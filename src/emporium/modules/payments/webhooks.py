"""Inbound provider webhooks: public (the provider signs the body), never behind `GatedRoute`.

The handler reads the raw body (the signature covers its exact bytes) and
hands it to one workflow, which verifies, deduplicates and applies it:
bad signature -> 401, unknown provider -> 404, anything else answered -> 200.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from emporium.modules.payments import workflows
from emporium.modules.payments.schemas import WebhookReceiptOut
from emporium.platform.http.state import database_of

router = APIRouter()


@router.post(
    "/v1/provider-webhooks/{provider}",
    operation_id="provider_webhooks_receive",
    tags=["payments"],
    responses={401: {"description": "The signature is missing, wrong or too old."}},
)
async def receive_provider_webhook(request: Request, provider: str) -> WebhookReceiptOut:
    body = await request.body()
    receipt = await workflows.receive_provider_webhook(
        database_of(request),
        provider=provider,
        body=body,
        headers=dict(request.headers),
        providers=workflows.providers_of(request.app.state),
    )
    return WebhookReceiptOut(event_id=receipt.event_id, outcome=receipt.outcome)
