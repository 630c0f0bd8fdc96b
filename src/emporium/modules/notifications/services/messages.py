"""Email/SMS messages and per-org quotas (service role)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from emporium.modules.notifications.domain import MessageStatus
from emporium.modules.notifications.tables import (
    message,
    send_quota,
)
from emporium.platform.db.tx import Tx
from emporium.platform.ids import new_id
from emporium.platform.telemetry.tracing import traced

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
