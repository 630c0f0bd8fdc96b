"""Inbox dedupe for subscribers (service role: the caller's transaction).

A subscriber's workflow records the delivery in the same transaction as its
effect; if the event comes again (a retry after a crash, a second dispatcher,
a broker redelivery) the row is already there and the effect is skipped:

    async with transaction(db) as tx:
        if not await inbox.first_delivery(tx, delivery):
            return
        ...  # the effect
        await tx.commit()

`platform.events.workflows.handle_once` wraps exactly this.
"""

from __future__ import annotations

from emporium.platform.db.tx import Tx
from emporium.platform.events import store
from emporium.platform.events.subscriptions import Delivery


async def first_delivery(tx: Tx, delivery: Delivery) -> bool:
    """Record (consumer, event id); True the first time, False if it was processed before."""
    return await store.record_in_inbox(tx, delivery.consumer, delivery.event.id)


async def record(tx: Tx, consumer: str, event_id: str) -> bool:
    return await store.record_in_inbox(tx, consumer, event_id)


async def already_processed(tx: Tx, consumer: str, event_id: str) -> bool:
    return await store.is_in_inbox(tx, consumer, event_id)
