"""Notifications storage (service role): endpoints, deliveries and attempts, messages, send quotas.

Every function runs in its caller's transaction. The owners of an org come
from identity's public api.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, bindparam, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from emporium.modules.identity import api as identity_api
from emporium.modules.notifications.domain import WAKE_CHANNEL, DeliveryStatus, DisableReason, MessageStatus
from emporium.modules.notifications.tables import (
    message,
    send_quota,
    webhook_attempt,
    webhook_delivery,
    webhook_endpoint,
)
from emporium.platform.db.keyset import keyset_page_query, time_id_key
from emporium.platform.db.tx import Tx
from emporium.platform.ids import new_id
from emporium.platform.pagination import Page, page_of
from emporium.platform.telemetry.tracing import current_trace_context, traced


@dataclass(frozen=True, slots=True)
class Endpoint:
    id: str
    org_id: str
    url: str
    event_types: list[str]
    enabled: bool
    secret: str
    previous_secret: str | None
    previous_secret_expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class Claimed:
    """A due delivery claimed by a worker, with what it needs to send it."""

    id: str
    org_id: str
    endpoint_id: str
    message_id: str
    body: str
    traceparent: str | None
    attempts: int
    total_attempts: int


def _endpoint(row: Row[Any]) -> Endpoint:
    return Endpoint(
        id=row.id,
        org_id=row.org_id,
        url=row.url,
        event_types=list(row.event_types),
        enabled=row.enabled,
        secret=row.secret,
        previous_secret=row.previous_secret,
        previous_secret_expires_at=row.previous_secret_expires_at,
    )


# --- endpoints ---------------------------------------------------------------------------------------


@traced
async def enabled_endpoints(tx: Tx, org_id: str) -> list[Endpoint]:
    query = select(webhook_endpoint).where(webhook_endpoint.c.org_id == org_id, webhook_endpoint.c.enabled)
    return [_endpoint(r) for r in (await tx.execute(query)).all()]


@traced
async def endpoints_by_id(tx: Tx, ids: Sequence[str]) -> dict[str, Endpoint]:
    if not ids:
        return {}
    rows = (await tx.execute(select(webhook_endpoint).where(webhook_endpoint.c.id.in_(sorted(set(ids)))))).all()
    return {r.id: _endpoint(r) for r in rows}


@traced
async def lock_endpoint(tx: Tx, org_id: str, endpoint_id: str) -> dict[str, Any] | None:
    query = (
        select(webhook_endpoint)
        .where(webhook_endpoint.c.org_id == org_id, webhook_endpoint.c.id == endpoint_id)
        .with_for_update()
    )
    row = (await tx.execute(query)).mappings().one_or_none()
    return dict(row) if row else None


@traced
async def rotate_secret(
    tx: Tx, org_id: str, endpoint_id: str, new_secret: str, previous_until: datetime
) -> dict[str, Any] | None:
    statement = (
        update(webhook_endpoint)
        .where(webhook_endpoint.c.org_id == org_id, webhook_endpoint.c.id == endpoint_id)
        .values(
            previous_secret=webhook_endpoint.c.secret,
            previous_secret_expires_at=previous_until,
            secret=new_secret,
            version=webhook_endpoint.c.version + 1,
            updated_at=func.now(),
        )
        .returning(*webhook_endpoint.c)
    )
    row = (await tx.execute(statement)).mappings().one_or_none()
    return dict(row) if row else None


@traced
async def track_failures(tx: Tx, succeeded: Sequence[str], failed: Sequence[str], now: datetime) -> dict[str, datetime]:
    """Reset `failing_since` of endpoints that had a success; start it for the others; their `failing_since`."""
    if succeeded:
        await tx.execute(
            update(webhook_endpoint)
            .where(webhook_endpoint.c.id.in_(sorted(set(succeeded))), webhook_endpoint.c.failing_since.is_not(None))
            .values(failing_since=None)
        )
    only_failed = sorted(set(failed) - set(succeeded))
    if not only_failed:
        return {}
    statement = (
        update(webhook_endpoint)
        .where(webhook_endpoint.c.id.in_(only_failed), webhook_endpoint.c.enabled)
        .values(failing_since=func.coalesce(webhook_endpoint.c.failing_since, now))
        .returning(webhook_endpoint.c.id, webhook_endpoint.c.failing_since)
    )
    return {r.id: r.failing_since for r in (await tx.execute(statement)).all()}


@traced
async def disable_endpoint(tx: Tx, endpoint_id: str, reason: DisableReason) -> Endpoint | None:
    """Disable an enabled endpoint; None if it was already disabled (or is gone), so only one caller tells the org."""
    statement = (
        update(webhook_endpoint)
        .where(webhook_endpoint.c.id == endpoint_id, webhook_endpoint.c.enabled)
        .values(
            enabled=False, disabled_reason=reason.value, version=webhook_endpoint.c.version + 1, updated_at=func.now()
        )
        .returning(*webhook_endpoint.c)
    )
    row = (await tx.execute(statement)).one_or_none()
    return _endpoint(row) if row else None


@traced
async def owner_emails(tx: Tx, org_id: str) -> list[str]:
    return await identity_api.owner_emails(tx, org_id)


# --- deliveries --------------------------------------------------------------------------------------


_FAN_OUT = text(
    """
    WITH inserted AS (
        INSERT INTO notifications.webhook_delivery
            (id, org_id, endpoint_id, event_id, event_type, message_id, body, traceparent, status, next_attempt_at)
        SELECT 'wdl_' || :event_suffix || substr(e.id, 5), e.org_id, e.id, :event_id, :event_type,
               'msg_' || :event_suffix || substr(e.id, 5), :body, :traceparent, 'pending', :now
        FROM notifications.webhook_endpoint AS e
        WHERE e.org_id = :org_id AND e.enabled AND e.event_types && CAST(:wanted AS text[])
        ON CONFLICT (endpoint_id, event_id) DO NOTHING
        RETURNING 1
    )
    SELECT count(*) AS n, CASE WHEN count(*) > 0 THEN pg_notify(:channel, '') END AS notified FROM inserted
    """
)


@traced
async def fan_out(
    tx: Tx, *, org_id: str, event_id: str, event_type: str, wanted: Sequence[str], body: str, now: datetime
) -> int:
    """One pending delivery per enabled endpoint of the org whose types overlap `wanted`, in one statement.

    Ids derive from (event, endpoint): the delivery `wdl_<event><endpoint>` and its `webhook-id`
    `msg_<event><endpoint>` (see `domain.message_id`); an event handled twice adds nothing.
    """
    params = {
        "org_id": org_id,
        "event_id": event_id,
        "event_suffix": event_id.removeprefix("evt_"),
        "event_type": event_type,
        "wanted": list(wanted),
        "body": body,
        "now": now,
        "channel": WAKE_CHANNEL,
        "traceparent": current_trace_context().get("traceparent"),
    }
    return int((await tx.execute(_FAN_OUT, params)).one().n)


_CLAIM = text(
    """
    WITH due AS (
        SELECT id FROM notifications.webhook_delivery
        WHERE status = 'pending' AND next_attempt_at <= :now AND (claimed_until IS NULL OR claimed_until < :now)
        ORDER BY next_attempt_at
        LIMIT :batch
        FOR UPDATE SKIP LOCKED
    )
    UPDATE notifications.webhook_delivery AS d
    SET claimed_by = :worker, claimed_until = :lease_until
    FROM due WHERE d.id = due.id
    RETURNING d.id, d.org_id, d.endpoint_id, d.message_id, d.body, d.traceparent, d.attempts, d.total_attempts
    """
)


@traced
async def claim_due(tx: Tx, worker: str, now: datetime, lease_until: datetime, batch: int) -> list[Claimed]:
    rows = await tx.execute(_CLAIM, {"now": now, "lease_until": lease_until, "batch": batch, "worker": worker})
    return [Claimed(**r._mapping) for r in rows.all()]


@traced
async def record_attempts(tx: Tx, attempts: Sequence[dict[str, Any]]) -> None:
    if attempts:
        await tx.execute(insert(webhook_attempt), [{"id": new_id("wat"), **a} for a in attempts])


_SETTLE = (
    update(webhook_delivery)
    .where(webhook_delivery.c.id == bindparam("b_id"), webhook_delivery.c.claimed_by == bindparam("b_worker"))
    .values(
        status=bindparam("b_status"),
        attempts=bindparam("b_attempts"),
        total_attempts=bindparam("b_total"),
        next_attempt_at=bindparam("b_next"),
        last_status_code=bindparam("b_code"),
        last_error=bindparam("b_error"),
        succeeded_at=bindparam("b_succeeded_at"),
        claimed_by=None,
        claimed_until=None,
        updated_at=bindparam("b_now"),
    )
)


@traced
async def settle(tx: Tx, outcomes: Sequence[dict[str, Any]]) -> None:
    """Record each claimed delivery's new state (only while this worker still holds its claim)."""
    if outcomes:
        await tx.execute(_SETTLE, [{f"b_{k}": v for k, v in o.items()} for o in outcomes])


@traced
async def release(tx: Tx, ids: Sequence[str], worker: str) -> None:
    if ids:
        await tx.execute(
            update(webhook_delivery)
            .where(webhook_delivery.c.id.in_(list(ids)), webhook_delivery.c.claimed_by == worker)
            .values(claimed_by=None, claimed_until=None)
        )


@traced
async def list_deliveries(
    tx: Tx, org_id: str, *, endpoint_id: str | None, status: DeliveryStatus | None, cursor: str | None, limit: int
) -> Page[dict[str, Any]]:
    conditions = [webhook_delivery.c.org_id == org_id]
    if endpoint_id is not None:
        conditions.append(webhook_delivery.c.endpoint_id == endpoint_id)
    if status is not None:
        conditions.append(webhook_delivery.c.status == status.value)
    query = keyset_page_query(
        select(webhook_delivery).where(and_(*conditions)),
        webhook_delivery.c.created_at,
        webhook_delivery.c.id,
        cursor,
        limit,
        descending=True,
    )
    rows = [dict(r) for r in (await tx.execute(query)).mappings().all()]
    return page_of(rows, limit, lambda r: time_id_key(r["created_at"], r["id"]))


@traced
async def get_delivery(tx: Tx, org_id: str, delivery_id: str) -> dict[str, Any] | None:
    query = select(webhook_delivery).where(webhook_delivery.c.org_id == org_id, webhook_delivery.c.id == delivery_id)
    row = (await tx.execute(query)).mappings().one_or_none()
    return dict(row) if row else None


@traced
async def list_attempts(tx: Tx, org_id: str, delivery_id: str) -> list[dict[str, Any]]:
    query = (
        select(webhook_attempt)
        .where(webhook_attempt.c.org_id == org_id, webhook_attempt.c.delivery_id == delivery_id)
        .order_by(webhook_attempt.c.number, webhook_attempt.c.id)
    )
    return [dict(r) for r in (await tx.execute(query)).mappings().all()]


@traced
async def replay(tx: Tx, org_id: str, delivery_id: str, now: datetime) -> dict[str, Any] | None:
    """A settled delivery (dead or succeeded) becomes pending again with a fresh schedule; same `webhook-id`."""
    statement = (
        update(webhook_delivery)
        .where(
            webhook_delivery.c.org_id == org_id,
            webhook_delivery.c.id == delivery_id,
            webhook_delivery.c.status != DeliveryStatus.PENDING.value,
        )
        .values(
            status=DeliveryStatus.PENDING.value,
            attempts=0,
            next_attempt_at=now,
            claimed_by=None,
            claimed_until=None,
            updated_at=now,
        )
        .returning(*webhook_delivery.c)
    )
    row = (await tx.execute(statement)).mappings().one_or_none()
    if row is not None:
        await tx.execute(text("SELECT pg_notify(:channel, '')"), {"channel": WAKE_CHANNEL})
    return dict(row) if row else None


# --- messages and quotas ------------------------------------------------------------------------------


_CLAIM_MESSAGE = text(
    """
    INSERT INTO notifications.message
        (id, org_id, consumer, event_id, channel, recipient, template, status, claimed_until, created_at)
    VALUES (:id, :org_id, :consumer, :event_id, :channel, :recipient, :template, 'sending', :lease_until, :now)
    ON CONFLICT (consumer, event_id) DO UPDATE
        SET claimed_until = EXCLUDED.claimed_until, attempts = notifications.message.attempts + 1
        WHERE notifications.message.status = 'sending'
          AND (notifications.message.claimed_until IS NULL OR notifications.message.claimed_until < EXCLUDED.created_at)
    RETURNING id, (xmax = 0) AS inserted
    """
)


@dataclass(frozen=True, slots=True)
class MessageClaim:
    id: str
    first: bool  # this is the first try (the send counts against the org's cap now)


@traced
async def claim_message(
    tx: Tx,
    *,
    org_id: str,
    consumer: str,
    event_id: str,
    channel: str,
    recipient: str,
    template: str,
    now: datetime,
    lease_until: datetime,
) -> MessageClaim | None:
    """Take the right to send (consumer, event)'s message; None while another sender holds it or it is settled."""
    row = (
        await tx.execute(
            _CLAIM_MESSAGE,
            {
                "id": new_id("ntf"),
                "org_id": org_id,
                "consumer": consumer,
                "event_id": event_id,
                "channel": channel,
                "recipient": recipient,
                "template": template,
                "lease_until": lease_until,
                "now": now,
            },
        )
    ).one_or_none()
    return MessageClaim(row.id, bool(row.inserted)) if row else None


@traced
async def message_status(tx: Tx, consumer: str, event_id: str) -> MessageStatus | None:
    query = select(message.c.status).where(message.c.consumer == consumer, message.c.event_id == event_id)
    value = await tx.scalar(query)
    return MessageStatus(value) if value else None


@traced
async def settle_message(tx: Tx, message_id: str, status: MessageStatus, error: str | None, now: datetime) -> None:
    await tx.execute(
        update(message)
        .where(message.c.id == message_id)
        .values(
            status=status.value,
            error=error,
            claimed_until=None,
            sent_at=now if status is MessageStatus.SENT else None,
        )
    )


@traced
async def record_message(
    tx: Tx,
    *,
    org_id: str,
    consumer: str,
    event_id: str,
    channel: str,
    recipient: str,
    template: str,
    status: MessageStatus,
    error: str | None,
    now: datetime,
) -> bool:
    """A message sent outside the event flow (e.g. to an org's owners); False if it was recorded before."""
    statement = (
        pg_insert(message)
        .values(
            id=new_id("ntf"),
            org_id=org_id,
            consumer=consumer,
            event_id=event_id,
            channel=channel,
            recipient=recipient,
            template=template,
            status=status.value,
            error=error,
            created_at=now,
            sent_at=now if status is MessageStatus.SENT else None,
        )
        .on_conflict_do_nothing(index_elements=["consumer", "event_id"])
        .returning(message.c.id)
    )
    return (await tx.execute(statement)).one_or_none() is not None


@traced
async def take_quota(tx: Tx, org_id: str, channel: str, window_start: datetime, cap: int) -> bool:
    """Count one send in the org's window unless the cap is reached (one atomic upsert: exact across replicas)."""
    if cap <= 0:
        return False
    statement = (
        pg_insert(send_quota)
        .values(org_id=org_id, channel=channel, window_start=window_start, used=1)
        .on_conflict_do_update(
            index_elements=["org_id", "channel", "window_start"],
            set_={"used": send_quota.c.used + 1},
            where=send_quota.c.used < cap,
        )
        .returning(send_quota.c.used)
    )
    return (await tx.execute(statement)).one_or_none() is not None


@traced
async def prune_quotas(tx: Tx, before: datetime) -> None:
    await tx.execute(send_quota.delete().where(send_quota.c.window_start < before))
