"""Notifications workflows: one outcome each; no transaction is held across an SMTP, SMS or webhook call.

Email and SMS, per (consumer, event):

    tx1: inbox seen? -> done.  Claim the message row (a lease); on the first try count it against
         the org's hourly cap -> over it: `skipped` + inbox, done.  commit
    send (no transaction open)  -> refused for good: tx `failed` + inbox;  other error: raise (the bus retries)
    tx2: `sent` + inbox row.  commit

If the database is lost between the send and tx2, tx2 is retried (with
back-off) while the lease holds, so an outage of the database alone sends
nothing twice. A crash in that window, or an outage longer than the lease,
re-sends once the lease has expired (the `Message-ID` is the same, so mail
clients fold the copies); everything else happens once per (consumer, event).

Webhooks: the subscriber's transaction inserts one delivery per matching
endpoint together with its inbox row; the delivery worker (`jobs.py`) then
calls `deliver_due` in a loop: claim due deliveries (lease, SKIP LOCKED),
send them concurrently, record every attempt and the next step in one
transaction.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from emporium.modules.notifications import services as store
from emporium.modules.notifications.domain import (
    ROTATION_OVERLAP,
    Attempt,
    Channel,
    DeliveryStatus,
    DisableReason,
    Email,
    MessageStatus,
    SendRefused,
    TextMessage,
    generate_signing_secret,
    outcome_of,
    quota_window,
    should_disable,
    signing_secrets,
    subscribed_types,
    webhook_body,
    webhook_event_type,
)
from emporium.modules.notifications.providers import Notifiers, NotifierSettings, install, installed, uninstall
from emporium.modules.notifications.providers.templates import render, render_email
from emporium.platform.audit import store as audit_store
from emporium.platform.audit.entries import AuditContext
from emporium.platform.auth.principal import ActorType, Principal
from emporium.platform.db.engine import Database
from emporium.platform.db.transaction import transaction
from emporium.platform.errors import Conflict, FieldError, NotFound, Unavailable, ValidationFailed
from emporium.platform.events import inbox
from emporium.platform.events.subscriptions import Delivery
from emporium.platform.http.ssrf import SsrfRefused
from emporium.platform.pagination import Page
from emporium.platform.telemetry.metrics import NOTIFICATION_SETTLE_RETRIES
from emporium.platform.telemetry.tracing import context_from, traced, tracer

__all__ = [
    "Clock",
    "EmailNotice",
    "NotifierSettings",
    "Notifiers",
    "TextNotice",
    "check_endpoint_url",
    "deliver_due",
    "delivery_attempts",
    "fan_out_webhooks",
    "install",
    "list_deliveries",
    "replay_delivery",
    "rotate_secret",
    "send_email",
    "send_text",
    "uninstall",
]

_log = structlog.stdlib.get_logger("emporium.notifications")

Clock = Callable[[], datetime]
MESSAGE_LEASE = timedelta(seconds=60)
SETTLE_RETRY_FIRST_DELAY = 0.2
SETTLE_RETRY_MAX_DELAY = 5.0
SETTLE_LEASE_MARGIN = 5.0  # stop retrying this long before the lease ends, so no one else has taken the message
SYSTEM_ACTOR = "notifications"


def utcnow() -> datetime:
    return datetime.now(UTC)


class MessageInFlight(Exception):
    """Another sender holds this message's claim; the bus retries the event later."""


@dataclass(frozen=True, slots=True)
class EmailNotice:
    to: str
    template: str
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TextNotice:
    to: str
    template: str
    context: dict[str, Any] = field(default_factory=dict)


# --- email and SMS -----------------------------------------------------------------------------------------


@traced
async def send_email(
    db: Database, delivery: Delivery, notice: EmailNotice, *, notifiers: Notifiers | None = None, clock: Clock = utcnow
) -> MessageStatus | None:
    """Send `notice` once for (consumer, event); None when this delivery was handled before."""
    n = notifiers or installed()
    subject, text_part, html = render_email(notice.template, notice.context)
    email = Email(notice.to, subject, text_part, html, f"<{delivery.event.id}.{delivery.consumer}@emporium>")
    return await _send_once(
        db,
        delivery,
        Channel.EMAIL,
        notice.to,
        notice.template,
        n.settings.email_hourly_cap,
        lambda: n.mailer.send(email),
        clock,
    )


@traced
async def send_text(
    db: Database, delivery: Delivery, notice: TextNotice, *, notifiers: Notifiers | None = None, clock: Clock = utcnow
) -> MessageStatus | None:
    n = notifiers or installed()
    text_message = TextMessage(notice.to, " ".join(render(f"{notice.template}.sms.txt", notice.context).split()))
    return await _send_once(
        db,
        delivery,
        Channel.SMS,
        notice.to,
        notice.template,
        n.settings.sms_hourly_cap,
        lambda: n.sms.send(text_message),
        clock,
    )


async def _send_once(
    db: Database,
    delivery: Delivery,
    channel: Channel,
    recipient: str,
    template: str,
    cap: int,
    send: Callable[[], Awaitable[None]],
    clock: Clock,
) -> MessageStatus | None:
    event, consumer = delivery.event, delivery.consumer
    org_id = event.org_id or "-"
    now = clock()
    async with transaction(db) as tx:
        if await inbox.already_processed(tx, consumer, event.id):
            return None
        claim = await store.claim_message(
            tx,
            org_id=org_id,
            consumer=consumer,
            event_id=event.id,
            channel=channel.value,
            recipient=recipient,
            template=template,
            now=now,
            lease_until=now + MESSAGE_LEASE,
        )
        if claim is None:
            if await store.message_status(tx, consumer, event.id) is MessageStatus.SENDING:
                raise MessageInFlight(f"{consumer} is sending the message of {event.id} elsewhere")
            await inbox.record(tx, consumer, event.id)  # settled before: make the bus see it
            await tx.commit()
            return None
        if claim.first and not await store.take_quota(tx, org_id, channel.value, quota_window(now), cap):
            reason = f"over the org's hourly {channel.value} cap of {cap}"
            await store.settle_message(tx, claim.id, MessageStatus.SKIPPED, reason, now)
            await inbox.first_delivery(tx, delivery)
            await tx.commit()
            _log.warning("notification_skipped", org_id=org_id, channel=channel.value, consumer=consumer, reason=reason)
            return MessageStatus.SKIPPED
        await tx.commit()
    lease_ends = time.monotonic() + MESSAGE_LEASE.total_seconds()
    try:
        await send()
    except SendRefused as refused:
        return await _settle_once_out(
            db, delivery, claim.id, MessageStatus.FAILED, str(refused)[:1000], clock, lease_ends
        )
    except Exception as error:
        async with transaction(db) as tx:  # free the claim at once: the bus's retry may take it
            await store.settle_message(
                tx, claim.id, MessageStatus.SENDING, f"{type(error).__name__}: {error}"[:1000], now
            )
            await tx.commit()
        raise
    return await _settle_once_out(db, delivery, claim.id, MessageStatus.SENT, None, clock, lease_ends)


async def _settle_once_out(
    db: Database,
    delivery: Delivery,
    claim_id: str,
    status: MessageStatus,
    error: str | None,
    clock: Clock,
    lease_ends: float,
) -> MessageStatus:
    """Record the outcome of a send that happened, waiting out a database outage while the claim's lease holds:
    giving up here would hand the event back to the bus, which sends it again once the lease has expired."""
    delay = SETTLE_RETRY_FIRST_DELAY
    while True:
        try:
            return await _settle(db, delivery, claim_id, status, error, clock())
        except Unavailable:
            if time.monotonic() + delay >= lease_ends - SETTLE_LEASE_MARGIN:
                raise
            NOTIFICATION_SETTLE_RETRIES.labels(delivery.consumer).inc()
            _log.warning(
                "notification_settle_retry", consumer=delivery.consumer, event_id=delivery.event.id, delay=delay
            )
            await asyncio.sleep(delay)  # back-off while the database comes back
            delay = min(delay * 2, SETTLE_RETRY_MAX_DELAY)


async def _settle(
    db: Database, delivery: Delivery, claim_id: str, status: MessageStatus, error: str | None, now: datetime
) -> MessageStatus:
    async with transaction(db) as tx:
        await store.settle_message(tx, claim_id, status, error, now)
        await inbox.record(tx, delivery.consumer, delivery.event.id)
        await tx.commit()
    return status


# --- webhooks: fan-out ---------------------------------------------------------------------------------------


@traced
async def fan_out_webhooks(db: Database, delivery: Delivery, *, clock: Clock = utcnow) -> int | None:
    """One delivery per enabled endpoint of the event's org subscribed to its type; None if handled before."""
    event = delivery.event
    event_type = webhook_event_type(event.name)
    async with transaction(db) as tx:
        if not await inbox.first_delivery(tx, delivery):
            return None
        inserted = 0
        if event.org_id is not None:
            inserted = await store.fan_out(
                tx,
                org_id=event.org_id,
                event_id=event.id,
                event_type=event_type,
                wanted=subscribed_types(event_type, event.version),
                body=webhook_body(event_type, event.version, event.occurred_at, event.payload),
                now=clock(),
            )
        await tx.commit()
    return inserted


# --- webhooks: the delivery worker's step --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    claimed: int = 0
    succeeded: int = 0
    retrying: int = 0
    dead: int = 0
    disabled: tuple[str, ...] = ()


@traced
async def deliver_due(
    db: Database,
    *,
    worker: str,
    batch: int = 100,
    concurrency: int = 16,
    lease_seconds: float = 120.0,
    notifiers: Notifiers | None = None,
    clock: Clock = utcnow,
    rand: Callable[[], float] = random.random,
) -> DeliveryReport:
    """Claim due deliveries, send them (at most `concurrency` at once), record attempts and outcomes."""
    n = notifiers or installed()
    now = clock()
    async with transaction(db) as tx:
        claimed = await store.claim_due(tx, worker, now, now + timedelta(seconds=lease_seconds), batch)
        endpoints = await store.endpoints_by_id(tx, [c.endpoint_id for c in claimed])
        await tx.commit()
    if not claimed:
        return DeliveryReport()
    limit = asyncio.Semaphore(concurrency)

    async def attempt(c: store.Claimed) -> Attempt:
        endpoint = endpoints[c.endpoint_id]
        async with limit:
            at = clock()
            keys = signing_secrets(endpoint.secret, endpoint.previous_secret, endpoint.previous_secret_expires_at, at)
            parent = context_from({"traceparent": c.traceparent} if c.traceparent else {})
            # The send continues the trace of the event that caused it (and carries `traceparent` to the receiver).
            with tracer().start_as_current_span(
                "notifications.webhook.send",
                context=parent,
                attributes={"emporium.module": "notifications", "emporium.role": "service", "webhook.id": c.message_id},
            ):
                return await n.webhooks.send(c.id, endpoint.url, c.message_id, c.body, keys, at)

    live = [c for c in claimed if c.endpoint_id in endpoints and endpoints[c.endpoint_id].enabled]
    orphans = [c for c in claimed if c not in live]
    attempts = await asyncio.gather(*(attempt(c) for c in live))
    return await _record(db, n, worker, live, attempts, orphans, clock(), rand)


async def _record(
    db: Database,
    notifiers: Notifiers,
    worker: str,
    live: Sequence[store.Claimed],
    attempts: Sequence[Attempt],
    orphans: Sequence[store.Claimed],
    now: datetime,
    rand: Callable[[], float],
) -> DeliveryReport:
    outcomes: list[dict[str, Any]] = []
    attempt_rows: list[dict[str, Any]] = []
    succeeded_endpoints: list[str] = []
    failed_endpoints: list[str] = []
    gone: list[str] = []
    counts = dict.fromkeys(DeliveryStatus, 0)
    for claimed, result in zip(live, attempts, strict=True):
        round_attempts, total = claimed.attempts + 1, claimed.total_attempts + 1
        outcome = outcome_of(result, round_attempts, rand)
        counts[outcome.status] += 1
        attempt_rows.append(
            {
                "org_id": claimed.org_id,
                "delivery_id": claimed.id,
                "number": total,
                "status_code": result.status_code,
                "error": result.error,
                "duration_ms": result.duration_ms,
                "succeeded": result.succeeded,
                "attempted_at": result.attempted_at,
            }
        )
        outcomes.append(
            {
                "id": claimed.id,
                "worker": worker,
                "status": outcome.status.value,
                "attempts": round_attempts,
                "total": total,
                "next": outcome.next_attempt_at,
                "code": result.status_code,
                "error": result.error,
                "succeeded_at": result.attempted_at if result.succeeded else None,
                "now": now,
            }
        )
        if result.succeeded:
            succeeded_endpoints.append(claimed.endpoint_id)
        elif result.status_code == 410:
            gone.append(claimed.endpoint_id)
        else:
            failed_endpoints.append(claimed.endpoint_id)
    for orphan in orphans:
        counts[DeliveryStatus.DEAD] += 1
        outcomes.append(
            {
                "id": orphan.id,
                "worker": worker,
                "status": DeliveryStatus.DEAD.value,
                "attempts": orphan.attempts,
                "total": orphan.total_attempts,
                "next": None,
                "code": None,
                "error": "the endpoint is disabled or deleted",
                "succeeded_at": None,
                "now": now,
            }
        )
    disabled: list[tuple[store.Endpoint, DisableReason, list[str]]] = []
    async with transaction(db) as tx:
        await store.record_attempts(tx, attempt_rows)
        await store.settle(tx, outcomes)
        failing = await store.track_failures(tx, succeeded_endpoints, failed_endpoints, now)
        reasons = {e: DisableReason.FAILING for e, since in failing.items() if should_disable(since, now)}
        reasons |= dict.fromkeys(gone, DisableReason.GONE)
        for endpoint_id, reason in sorted(reasons.items()):
            endpoint = await store.disable_endpoint(tx, endpoint_id, reason)
            if endpoint is None:
                continue
            await audit_store.record(
                tx,
                AuditContext(endpoint.org_id, ActorType.SYSTEM.value, SYSTEM_ACTOR, "webhook_endpoints_disable", None),
                endpoint.id,
            )
            disabled.append((endpoint, reason, await store.owner_emails(tx, endpoint.org_id)))
        await tx.commit()
    for endpoint, reason, owners in disabled:
        await _tell_owners(db, notifiers, endpoint, reason, owners, now)
    return DeliveryReport(
        claimed=len(live) + len(orphans),
        succeeded=counts[DeliveryStatus.SUCCEEDED],
        retrying=counts[DeliveryStatus.PENDING],
        dead=counts[DeliveryStatus.DEAD],
        disabled=tuple(e.id for e, _, _ in disabled),
    )


async def _tell_owners(
    db: Database,
    notifiers: Notifiers,
    endpoint: store.Endpoint,
    reason: DisableReason,
    owners: list[str],
    now: datetime,
) -> None:
    """Email the org's owners that an endpoint was disabled (recorded per owner; not capped, not retried)."""
    _log.warning("webhook_endpoint_disabled", org_id=endpoint.org_id, endpoint_id=endpoint.id, reason=reason.value)
    context = {"endpoint_id": endpoint.id, "url": endpoint.url, "reason": reason.value}
    subject, text_part, html = render_email("endpoint_disabled", context)
    for owner in owners:
        email = Email(owner, subject, text_part, html, f"<{endpoint.id}.{int(now.timestamp())}.disabled@emporium>")
        status, error = MessageStatus.SENT, None
        try:
            await notifiers.mailer.send(email)
        except Exception as failure:
            status, error = MessageStatus.FAILED, f"{type(failure).__name__}: {failure}"[:1000]
            _log.exception("webhook_disabled_email_failed", endpoint_id=endpoint.id, to=owner)
        async with transaction(db) as tx:
            await store.record_message(
                tx,
                org_id=endpoint.org_id,
                consumer="notifications.endpoint_disabled",
                event_id=f"{endpoint.id}:{now.isoformat()}:{owner}",
                channel=Channel.EMAIL.value,
                recipient=owner,
                template="endpoint_disabled",
                status=status,
                error=error,
                now=now,
            )
            await tx.commit()


@traced
async def release_claims(db: Database, ids: Sequence[str], worker: str) -> None:
    async with transaction(db) as tx:
        await store.release(tx, ids, worker)
        await tx.commit()


@traced
async def prune_quotas(db: Database, *, clock: Clock = utcnow) -> None:
    async with transaction(db) as tx:
        await store.prune_quotas(tx, quota_window(clock()) - timedelta(hours=2))
        await tx.commit()


# --- the HTTP side -----------------------------------------------------------------------------------------------


@traced
async def check_endpoint_url(url: str, *, notifiers: Notifiers | None = None) -> None:
    """Registration-time SSRF check of an endpoint URL: a 422 naming `url` when it is refused."""
    try:
        await (notifiers or installed()).guard.check_url(url)
    except SsrfRefused as refused:
        raise ValidationFailed(
            "the webhook URL is not allowed", errors=[FieldError("url", "ssrf", f"{refused}")]
        ) from None


@traced
async def list_deliveries(
    db: Database,
    principal: Principal,
    *,
    endpoint_id: str | None,
    status: DeliveryStatus | None,
    cursor: str | None,
    limit: int,
) -> Page[dict[str, Any]]:
    async with transaction(db) as tx:
        return await store.list_deliveries(
            tx, principal.org_id, endpoint_id=endpoint_id, status=status, cursor=cursor, limit=limit
        )


@traced
async def delivery_attempts(db: Database, principal: Principal, delivery_id: str) -> list[dict[str, Any]]:
    async with transaction(db) as tx:
        if await store.get_delivery(tx, principal.org_id, delivery_id) is None:
            raise NotFound(f"no webhook delivery {delivery_id}")
        return await store.list_attempts(tx, principal.org_id, delivery_id)


@traced
async def replay_delivery(
    db: Database, principal: Principal, audit: AuditContext, delivery_id: str, *, clock: Clock = utcnow
) -> dict[str, Any]:
    """Send a settled delivery again (same `webhook-id`, a fresh retry schedule)."""
    async with transaction(db) as tx:
        current = await store.get_delivery(tx, principal.org_id, delivery_id)
        if current is None:
            raise NotFound(f"no webhook delivery {delivery_id}")
        endpoint = await store.lock_endpoint(tx, principal.org_id, current["endpoint_id"])
        if endpoint is None or not endpoint["enabled"]:
            raise Conflict(
                f"the endpoint of webhook delivery {delivery_id} is disabled or deleted; enable it first",
                endpoint_id=current["endpoint_id"],
            )
        replayed = await store.replay(tx, principal.org_id, delivery_id, clock())
        if replayed is None:
            raise Conflict(f"webhook delivery {delivery_id} is still pending", status=current["status"])
        await audit_store.record(tx, audit, delivery_id)
        await tx.commit()
    return replayed


@traced
async def rotate_secret(
    db: Database, principal: Principal, audit: AuditContext, endpoint_id: str, *, clock: Clock = utcnow
) -> dict[str, Any]:
    """A new signing secret; the previous one keeps signing (a second signature) for ROTATION_OVERLAP."""
    async with transaction(db) as tx:
        row = await store.rotate_secret(
            tx, principal.org_id, endpoint_id, generate_signing_secret(), clock() + ROTATION_OVERLAP
        )
        if row is None:
            raise NotFound(f"no webhook_endpoint {endpoint_id}")
        await audit_store.record(tx, audit, endpoint_id)
        await tx.commit()
    return row
