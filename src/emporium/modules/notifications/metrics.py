"""Notifications' metrics (listed in its manifest)."""

from __future__ import annotations

from prometheus_client import Counter

NOTIFICATION_SETTLE_RETRIES = Counter(
    "notification_settle_retries", "Sent notifications whose record had to wait for the database", ["consumer"]
)
