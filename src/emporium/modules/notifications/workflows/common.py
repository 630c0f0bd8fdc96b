"""What the notifications workflows share: the clock, the log, the lease settings."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import structlog

_log = structlog.stdlib.get_logger("emporium.notifications")

Clock = Callable[[], datetime]
MESSAGE_LEASE = timedelta(seconds=60)
SETTLE_RETRY_FIRST_DELAY = 0.2
SETTLE_RETRY_MAX_DELAY = 5.0
SETTLE_LEASE_MARGIN = 5.0  # stop retrying this long before the lease ends, so no one else has taken the message
SYSTEM_ACTOR = "notifications"


def utcnow() -> datetime:
    return datetime.now(UTC)
