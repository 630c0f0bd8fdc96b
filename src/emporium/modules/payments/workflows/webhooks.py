"""Inbound provider webhooks: verified, deduplicated, applied only forwards."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from emporium.modules.payments import services as store
from emporium.modules.payments.domain import (
    PaymentStatus,
    ProviderEvent,
    forward_path,
)
from emporium.modules.payments.providers import Providers
from emporium.modules.payments.workflows.authorization import apply_step
from emporium.modules.payments.workflows.common import adapter_for, log
from emporium.platform.db.engine import Database
from emporium.platform.db.transaction import transaction
from emporium.platform.db.tx import Tx
from emporium.platform.money import Money
from emporium.platform.telemetry.tracing import traced


@dataclass(frozen=True, slots=True)
class WebhookReceipt:
    event_id: str
    outcome: str  # duplicate | ignored | unknown_payment | stale | moved:<status>[,<status>]


@traced
async def receive_provider_webhook(
    db: Database,
    *,
    provider: str,
    body: bytes,
    headers: Mapping[str, str],
    providers: Providers | None = None,
) -> WebhookReceipt:
    """Verify, deduplicate by the provider's event id, and move the payment forward if the event says so.

    The event and its effect commit together; a replayed event id does
    nothing; an event that would move a payment backwards (it arrived late)
    is recorded and ignored.
    """
    adapter = adapter_for(db, provider, providers)
    event = adapter.parse_webhook(body, headers)
    async with transaction(db) as tx:
        if not await store.first_provider_event(tx, provider, event):
            return WebhookReceipt(event.event_id, "duplicate")
        outcome = await _apply_event(tx, provider, event)
        await store.set_provider_event_outcome(tx, provider, event.event_id, outcome)
        await tx.commit()
    log.info("provider_webhook", provider=provider, event_id=event.event_id, type=event.event_type, outcome=outcome)
    return WebhookReceipt(event.event_id, outcome)


async def _apply_event(tx: Tx, provider: str, event: ProviderEvent) -> str:
    if event.payment_id is None or event.status is None:
        return "ignored"
    payment = await store.lock_by_id(tx, event.payment_id)
    if payment is None or payment.provider != provider:
        return "unknown_payment"
    path = forward_path(payment.status, event.status)
    if not path:
        return "stale"
    currency = payment.amount.currency
    reported = Money(event.amount_minor, currency) if event.amount_minor is not None else None
    authorized = reported if path[-1] is PaymentStatus.AUTHORIZED else None
    if (authorized and payment.amount < authorized) or (
        reported and path[-1] is PaymentStatus.CAPTURED and payment.amount < reported
    ):
        return "invalid_amount"
    for step in path:
        moved = await apply_step(tx, payment, step, authorized, reported, event.provider_ref, event.reason)
        if moved is None:
            return "stale"
        payment = moved
    return "moved:" + ",".join(step.value for step in path)
