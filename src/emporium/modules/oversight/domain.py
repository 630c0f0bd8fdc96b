"""Oversight values and rules (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from emporium.platform.errors import FieldError, ValidationFailed
from emporium.platform.flags.definitions import Flag, FlagKind

PLATFORM_SCOPE = "platform"  # the audit log's org for changes that concern no single org


@dataclass(frozen=True, slots=True)
class FlagState:
    flag: Flag
    global_percentage: int | None  # None: the declared default applies
    org_percentages: dict[str, int]  # org id -> its own setting


@dataclass(frozen=True, slots=True)
class ApiRequest:
    id: int
    occurred_at: datetime
    org_id: str | None
    actor_type: str | None
    actor_id: str | None
    method: str
    route: str
    status: int
    latency_ms: float
    idempotency_key: str | None
    request_id: str | None


@dataclass(frozen=True, slots=True)
class ApiRequestFilter:
    route: str | None = None
    method: str | None = None
    status: int | None = None
    actor_id: str | None = None
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None


def percentage_of(flag: Flag, enabled: bool | None, percentage: int | None) -> int:
    """The stored share (0..100) for a change: `enabled` for any flag, `percentage` only for a percentage flag."""
    if (enabled is None) == (percentage is None):
        raise ValidationFailed(
            "give exactly one of `enabled` and `percentage`",
            errors=[FieldError("enabled", "one_of", "exactly one of enabled, percentage")],
        )
    if percentage is not None:
        if flag.kind is not FlagKind.PERCENTAGE:
            raise ValidationFailed(
                f"flag {flag.name} is on or off: set `enabled`",
                errors=[FieldError("percentage", "flag_kind", "only percentage flags take a percentage")],
            )
        return percentage
    return 100 if enabled else 0
