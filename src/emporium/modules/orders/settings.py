"""The settings orders' jobs read (names of `Config` fields, filled in by the application)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class OrdersSettings:
    checkout_recovery_after: float
    checkout_recovery_interval: float
    payment_authorization_ttl: float
