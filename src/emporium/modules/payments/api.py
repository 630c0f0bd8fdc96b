"""Payments' public surface for other modules: the domain types (no function takes a `tx` yet).

Orchestrators call `payments.workflows` (start_authorization, authorize,
capture, void, refund, resolve_pending, payment_for_order,
expire_authorizations, stale_pending); other modules' services may import
the types and errors from here.
"""

from __future__ import annotations

from emporium.modules.payments.domain import (
    LIVE_STATUSES,
    CaptureExceedsAuthorization,
    InvalidSignature,
    Payment,
    PaymentDeclined,
    PaymentStatus,
    ProviderError,
    ProviderUnavailable,
    Refund,
    RefundExceedsCapture,
    RefundKeyReused,
    RefundStatus,
    UnknownProvider,
)

__all__ = [
    "LIVE_STATUSES",
    "CaptureExceedsAuthorization",
    "InvalidSignature",
    "Payment",
    "PaymentDeclined",
    "PaymentStatus",
    "ProviderError",
    "ProviderUnavailable",
    "Refund",
    "RefundExceedsCapture",
    "RefundKeyReused",
    "RefundStatus",
    "UnknownProvider",
]
