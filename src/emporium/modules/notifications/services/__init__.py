"""Notifications storage (service role): endpoints, deliveries and attempts, messages, send quotas.

Every function runs in its caller's transaction. The owners of an org come
from identity's public api.
"""

from __future__ import annotations

from emporium.modules.notifications.services.deliveries import (
    claim_due,
    fan_out,
    get_delivery,
    list_attempts,
    list_deliveries,
    record_attempts,
    release,
    replay,
    settle,
)
from emporium.modules.notifications.services.endpoints import (
    Claimed,
    Endpoint,
    disable_endpoint,
    enabled_endpoints,
    endpoints_by_id,
    lock_endpoint,
    owner_emails,
    rotate_secret,
    track_failures,
)
from emporium.modules.notifications.services.messages import (
    MessageClaim,
    claim_message,
    message_status,
    prune_quotas,
    record_message,
    settle_message,
    take_quota,
)

__all__ = [
    "Claimed",
    "Endpoint",
    "MessageClaim",
    "claim_due",
    "claim_message",
    "disable_endpoint",
    "enabled_endpoints",
    "endpoints_by_id",
    "fan_out",
    "get_delivery",
    "list_attempts",
    "list_deliveries",
    "lock_endpoint",
    "message_status",
    "owner_emails",
    "prune_quotas",
    "record_attempts",
    "record_message",
    "release",
    "replay",
    "rotate_secret",
    "settle",
    "settle_message",
    "take_quota",
    "track_failures",
]
