"""Payments' metrics (listed in its manifest)."""

from __future__ import annotations

from prometheus_client import Counter

PAYMENT_OUTCOMES = Counter(
    "payment_outcomes", "Payment provider calls by outcome", ["provider", "operation", "outcome"]
)
