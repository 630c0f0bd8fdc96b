"""Outgoing webhooks: the fan-out of an event to endpoints, and the delivery worker's step."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from emporium.modules.notifications import services as store
from emporium.modules.notifications.domain import (
    Attempt,
    Channel,
    DeliveryStatus,
    DisableReason,
    Email,
    MessageStatus,
    outcome_of,
    quota_window,
    renditions,
    should_disable,
    signing_secrets,
    webhook_body,
    webhook_event_type,
)
from emporium.modules.notifications.providers import Notifiers, installed
from emporium.modules.notifications.providers.templates import render_email
from emporium.modules.notifications.workflows.common import SYSTEM_ACTOR, Clock, _log, utcnow
from emporium.platform.audit import store as audit_store
from emporium.platform.audit.entries import AuditContext
from emporium.platform.auth.principal import ActorType
from emporium.platform.db.engine import Database
from emporium.platform.db.transaction import transaction
from emporium.platform.events import inbox
from emporium.platform.events.contracts import Envelope, contract_of
from emporium.platform.events.subscriptions import Delivery
from emporium.platform.telemetry.tracing import context_from, traced, tracer


def _bodies(event: Envelope, event_type: str) -> list[tuple[list[str], str]]:
    """The event's bodies in order of preference, each with the `event_types` entries that choose it.

    The owner's contract (found by name: this module does not import the owner) says which earlier versions
    it still renders; an event older than the current contract is rendered only as itself.
    """
    contract = contract_of(event.name)
    current = contract is not None and contract.event_version == event.version
    versions = contract.renderable_versions() if contract is not None and current else (event.version,)

    def data(version: int) -> dict[str, Any]:
        return contract.render(event.payload, version) if contract is not None and current else event.payload

    return [
        (entries, webhook_body(event_type, version, event.occurred_at, data(version)))
        for version, entries in renditions(event_type, versions)
    ]


@traced
async def fan_out_webhooks(db: Database, delivery: Delivery, *, clock: Clock = utcnow) -> int | None:
    """One delivery per enabled endpoint of the event's org subscribed to its type, rendered at the version
    its `event_types` choose (`domain.renditions`); None if handled before."""
    event = delivery.event
    event_type = webhook_event_type(event.name)
    bodies = _bodies(event, event_type)
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
                bodies=bodies,
                now=clock(),
            )
        await tx.commit()
    return inserted


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
