"""Payments storage (service role): payments (`payments.py`), refunds and processed provider events
(`refunds.py`). Every function runs in its caller's transaction."""

from __future__ import annotations

from emporium.modules.payments.services.payments import (
    authorized_before,
    card_token_of,
    get,
    insert_pending,
    insert_unless_live,
    latest_for_order,
    live_for_order,
    lock_by_id,
    mark_authorized,
    mark_captured,
    mark_charged,
    mark_unauthorized,
    mark_voided,
    pending_before,
    settle_at_commit,
)
from emporium.modules.payments.services.refunds import (
    first_provider_event,
    get_refund,
    refund_by_key,
    refund_failed,
    refund_succeeded,
    reserve_refund,
    set_provider_event_outcome,
)

__all__ = [
    "authorized_before",
    "card_token_of",
    "first_provider_event",
    "get",
    "get_refund",
    "insert_pending",
    "insert_unless_live",
    "latest_for_order",
    "live_for_order",
    "lock_by_id",
    "mark_authorized",
    "mark_captured",
    "mark_charged",
    "mark_unauthorized",
    "mark_voided",
    "pending_before",
    "refund_by_key",
    "refund_failed",
    "refund_succeeded",
    "reserve_refund",
    "set_provider_event_outcome",
    "settle_at_commit",
]
