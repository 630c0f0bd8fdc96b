"""Email and SMS: one message per consumer and event, claimed, sent once, settled."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from emporium.modules.notifications import services as store
from emporium.modules.notifications.domain import (
    Channel,
    Email,
    MessageStatus,
    SendRefused,
    TextMessage,
    quota_window,
)
from emporium.modules.notifications.metrics import NOTIFICATION_SETTLE_RETRIES
from emporium.modules.notifications.providers import Notifiers, installed
from emporium.modules.notifications.providers.templates import render, render_email
from emporium.modules.notifications.workflows.common import (
    MESSAGE_LEASE,
    SETTLE_LEASE_MARGIN,
    SETTLE_RETRY_FIRST_DELAY,
    SETTLE_RETRY_MAX_DELAY,
    Clock,
    _log,
    utcnow,
)
from emporium.platform.db.engine import Database
from emporium.platform.db.transaction import transaction
from emporium.platform.errors import Unavailable
from emporium.platform.events import inbox
from emporium.platform.events.subscriptions import Delivery
from emporium.platform.telemetry.tracing import traced


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
