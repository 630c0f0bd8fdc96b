"""The settings orders' handlers and jobs read (names of `Config` fields, filled in once by the application)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class OrdersSettings:
    order_reservation_ttl: float
    checkout_recovery_after: float
    checkout_recovery_interval: float
    payment_authorization_ttl: float
