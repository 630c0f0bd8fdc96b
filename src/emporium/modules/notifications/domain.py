"""Notification rules: webhook endpoints (Standard Webhooks), deliveries and their retry schedule, send caps.

Pure helpers: no I/O, no framework.
"""

from __future__ import annotations

import base64
import json
import random
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

SECRET_PREFIX = "whsec_"  # noqa: S105 (a format prefix, not a secret)
EVENT_TYPE = re.compile(r"^(\*|[A-Z][A-Za-z]{2,63}(\.v[1-9][0-9]{0,2})?)$")

# Attempts happen immediately, then after these delays (Standard Webhooks / Svix schedule);
# after the last one fails the delivery is dead (visible, replayable by hand).
RETRY_DELAYS: tuple[float, ...] = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
JITTER = 0.1  # each delay is drawn from [0.9 d, 1.1 d]
DISABLE_AFTER = timedelta(days=5)  # an endpoint failing continuously this long is disabled
ROTATION_OVERLAP = timedelta(hours=24)  # the previous secret keeps signing this long after a rotation
GONE = 410
WAKE_CHANNEL = "emporium_webhooks"  # NOTIFY when deliveries are created or replayed


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    DEAD = "dead"


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


class MessageStatus(StrEnum):
    SENDING = "sending"
    SENT = "sent"
    SKIPPED = "skipped"  # over the org's hourly cap: recorded, not retried
    FAILED = "failed"  # refused for good by the provider (bad address or number)


class DisableReason(StrEnum):
    GONE = "gone"  # the endpoint answered 410
    FAILING = "failing"  # no success for DISABLE_AFTER


# --- endpoints and secrets --------------------------------------------------------------------------


def generate_signing_secret() -> str:
    """A Standard Webhooks secret: `whsec_` + base64 of 24 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


def secret_hint(secret: str) -> str:
    return secret[: len(SECRET_PREFIX) + 4] + "…"


def signing_secrets(
    secret: str, previous: str | None, previous_expires_at: datetime | None, now: datetime
) -> list[str]:
    """The secrets that sign a message now: the current one, and the previous one during its overlap."""
    if previous and previous_expires_at is not None and now < previous_expires_at:
        return [secret, previous]
    return [secret]


# --- event types ---------------------------------------------------------------------------------------


def webhook_event_type(event_name: str) -> str:
    """The one mapping from bus names to webhook types: `orders.order_created` -> `OrderCreated`."""
    what = event_name.split(".", 1)[1]
    return "".join(part.capitalize() for part in what.split("_"))


def renditions(event_type: str, versions: Sequence[int]) -> list[tuple[int, list[str]]]:
    """For an event renderable as `versions` (the current one first, then earlier ones, newest first):
    each version with the `event_types` entries that choose it. `*` and the bare type choose the current
    version, `OrderPaid.v1` that version. An endpoint gets ONE delivery per event, at the first version in
    this order that one of its entries chooses: unpinned wins, then the newest pinned version."""
    current, *earlier = versions
    return [(current, ["*", event_type, f"{event_type}.v{current}"]), *((v, [f"{event_type}.v{v}"]) for v in earlier)]


def chosen_version(event_types: Sequence[str], event_type: str, versions: Sequence[int]) -> int | None:
    """The version an endpoint subscribed to `event_types` receives this event as; None: not subscribed."""
    subscribed = set(event_types)
    return next((version for version, entries in renditions(event_type, versions) if subscribed & set(entries)), None)


def pinned_version(entry: str) -> tuple[str, int] | None:
    """`OrderPaid.v1` -> (`OrderPaid`, 1); None for `*` and bare types."""
    name, dot, version = entry.partition(".v")
    return (name, int(version)) if dot else None


def unrenderable_pins(event_types: Sequence[str], catalog: Mapping[str, Sequence[int]]) -> list[str]:
    """The pinned entries naming a version no event can be rendered as (`catalog`: type -> its versions)."""
    refused = []
    for entry in event_types:
        pin = pinned_version(entry)
        if pin is not None and pin[1] not in catalog.get(pin[0], ()):
            refused.append(entry)
    return refused


def message_id(event_id: str, endpoint_id: str) -> str:
    """The `webhook-id`: stable per (event, endpoint), across retries and manual replays."""
    return f"msg_{event_id.removeprefix('evt_')}{endpoint_id.removeprefix('whe_')}"


def delivery_id(event_id: str, endpoint_id: str) -> str:
    return f"wdl_{event_id.removeprefix('evt_')}{endpoint_id.removeprefix('whe_')}"


def webhook_body(event_type: str, version: int, occurred_at: datetime, data: Mapping[str, Any]) -> str:
    """The Standard Webhooks payload: `{"type", "timestamp", "data"}` (compact JSON, signed as sent)."""
    body = {"type": event_type, "version": version, "timestamp": occurred_at.isoformat(), "data": dict(data)}
    return json.dumps(body, separators=(",", ":"), sort_keys=True)


# --- attempts and retries ----------------------------------------------------------------------------


def is_success(status_code: int | None) -> bool:
    """Only a 2xx answer is a delivery; redirects are not followed and count as failures."""
    return status_code is not None and 200 <= status_code < 300


def retry_delay(attempts: int, rand: Callable[[], float] = random.random) -> float | None:
    """Seconds until the next attempt after `attempts` failed ones in this round; None: the delivery is dead."""
    if attempts >= MAX_ATTEMPTS:
        return None
    base = RETRY_DELAYS[attempts - 1]
    return base * (1 - JITTER + 2 * JITTER * rand())


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one attempt produced (status None: nothing was answered, see `error`)."""

    delivery_id: str
    status_code: int | None
    error: str | None
    duration_ms: int
    attempted_at: datetime

    @property
    def succeeded(self) -> bool:
        return is_success(self.status_code)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a delivery stands after an attempt."""

    status: DeliveryStatus
    next_attempt_at: datetime | None


def outcome_of(attempt: Attempt, attempts_in_round: int, rand: Callable[[], float] = random.random) -> Outcome:
    """`attempts_in_round` includes this attempt. A 410 ends the delivery (the endpoint goes away)."""
    if attempt.succeeded:
        return Outcome(DeliveryStatus.SUCCEEDED, None)
    delay = None if attempt.status_code == GONE else retry_delay(attempts_in_round, rand)
    if delay is None:
        return Outcome(DeliveryStatus.DEAD, None)
    return Outcome(DeliveryStatus.PENDING, attempt.attempted_at + timedelta(seconds=delay))


def should_disable(failing_since: datetime | None, now: datetime) -> bool:
    return failing_since is not None and now - failing_since >= DISABLE_AFTER


# --- caps ----------------------------------------------------------------------------------------------


def quota_window(now: datetime) -> datetime:
    """Caps count sends per clock hour (a fixed window: exact, and one row per org, channel and hour)."""
    return now.replace(minute=0, second=0, microsecond=0)


class SendRefused(Exception):
    """The provider refused a message for good (bad address or number): record it, do not retry."""


@dataclass(frozen=True, slots=True)
class Email:
    to: str
    subject: str
    text: str
    html: str
    message_id: str  # `<...@...>`, derived from (consumer, event): a resend carries the same id


@dataclass(frozen=True, slots=True)
class TextMessage:
    to: str
    body: str
