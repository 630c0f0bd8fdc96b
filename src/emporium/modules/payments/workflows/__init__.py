"""Payments workflows: one business outcome each, and never a transaction held across a provider call.

The pattern of every money move:

    tx1: read (and, for refunds, reserve) -> commit
    provider call with an idempotency key derived from our id (outside any transaction)
    tx2: conditional update from the state read + outbox event -> commit

A crash or timeout between the steps leaves a state that a retry or the
recovery job (`resolve_pending`) completes; the provider key makes the retry
a replay, never a second charge or refund.
"""

from __future__ import annotations

from emporium.modules.payments.domain import (
    CaptureExceedsAuthorization,
    Payment,
    PaymentStatus,
    Refund,
    RefundExceedsCapture,
    RefundStatus,
    check_has_capture,
)
from emporium.modules.payments.providers import Providers, ProviderSettings, install, uninstall
from emporium.modules.payments.workflows.authorization import authorize, resolve_pending, start_authorization
from emporium.modules.payments.workflows.capture import capture, capture_held, expire_authorizations, void
from emporium.modules.payments.workflows.charge import NO_NEWS, charge, check_payment_method, resolve_charge
from emporium.modules.payments.workflows.common import providers_of
from emporium.modules.payments.workflows.reads import get_payment, payment_for_order, stale_pending
from emporium.modules.payments.workflows.refunds import refund, refund_remaining
from emporium.modules.payments.workflows.webhooks import WebhookReceipt, receive_provider_webhook
from emporium.platform.errors import PaymentDeclined

__all__ = [
    "NO_NEWS",
    "CaptureExceedsAuthorization",
    "Payment",
    "PaymentDeclined",
    "PaymentStatus",
    "ProviderSettings",
    "Providers",
    "Refund",
    "RefundExceedsCapture",
    "RefundStatus",
    "WebhookReceipt",
    "authorize",
    "capture",
    "capture_held",
    "charge",
    "check_has_capture",
    "check_payment_method",
    "expire_authorizations",
    "get_payment",
    "install",
    "payment_for_order",
    "providers_of",
    "receive_provider_webhook",
    "refund",
    "refund_remaining",
    "resolve_charge",
    "resolve_pending",
    "stale_pending",
    "start_authorization",
    "uninstall",
    "void",
]
