"""Webhook deliveries (service role): fan-out, claims, attempts, settlement, replay."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, insert, select, text, update

from emporium.modules.notifications.domain import WAKE_CHANNEL, DeliveryStatus
from emporium.modules.notifications.services.endpoints import Claimed
from emporium.modules.notifications.tables import (
    webhook_attempt,
    webhook_delivery,
)
from emporium.platform.db.keyset import keyset_page_query, time_id_key
from emporium.platform.db.tx import Tx
from emporium.platform.ids import new_id
from emporium.platform.pagination import Page, page_of
from emporium.platform.telemetry.tracing import current_trace_context, traced

# `choice` maps each wanted `event_types` entry to the rank of the body it selects (1 = preferred);
# an endpoint whose entries select several bodies gets one delivery, with the best-ranked body.
_FAN_OUT = text(
    """
    WITH choice AS (
        SELECT entry, rank FROM unnest(CAST(:entries AS text[]), CAST(:ranks AS int[])) AS c(entry, rank)
    ),
    inserted AS (
        INSERT INTO notifications.webhook_delivery
            (id, org_id, endpoint_id, event_id, event_type, message_id, body, traceparent, status, next_attempt_at)
        SELECT 'wdl_' || :event_suffix || substr(e.id, 5), e.org_id, e.id, :event_id, :event_type,
               'msg_' || :event_suffix || substr(e.id, 5),
               (CAST(:bodies AS text[]))[(SELECT min(c.rank) FROM choice AS c WHERE c.entry = ANY(e.event_types))],
               :traceparent, 'pending', :now
        FROM notifications.webhook_endpoint AS e
        WHERE e.org_id = :org_id AND e.enabled AND e.event_types && CAST(:entries AS text[])
        ON CONFLICT (endpoint_id, event_id) DO NOTHING
        RETURNING 1
    )
    SELECT count(*) AS n FROM inserted
    """
)


@traced
async def fan_out(
    tx: Tx,
    *,
    org_id: str,
    event_id: str,
    event_type: str,
    bodies: Sequence[tuple[Sequence[str], str]],
    now: datetime,
) -> int:
    """One pending delivery per enabled endpoint of the org whose types overlap an entry of `bodies`, in one
    statement. `bodies` are in order of preference, each with the entries that select it: an endpoint gets
    the first body one of its entries selects (one delivery per event, never one per matching entry).

    Ids derive from (event, endpoint): the delivery `wdl_<event><endpoint>` and its `webhook-id`
    `msg_<event><endpoint>` (see `domain.message_id`); an event handled twice adds nothing.
    """
    pairs = [(entry, rank) for rank, (entries, _) in enumerate(bodies, start=1) for entry in entries]
    params = {
        "org_id": org_id,
        "event_id": event_id,
        "event_suffix": event_id.removeprefix("evt_"),
        "event_type": event_type,
        "entries": [entry for entry, _ in pairs],
        "ranks": [rank for _, rank in pairs],
        "bodies": [body for _, body in bodies],
        "now": now,
        "traceparent": current_trace_context().get("traceparent"),
    }
    added = int((await tx.execute(_FAN_OUT, params)).one().n)
    if added:
        tx.notify_after_commit(WAKE_CHANNEL)  # after the COMMIT: no wait on the server's notify lock inside it
    return added


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
        tx.notify_after_commit(WAKE_CHANNEL)
    return dict(row) if row else None
