"""The event bus's transactions (workflow role: the only bus code that opens them).

Each function is one short transaction; the dispatcher, the broker bridge and
the dead-letter admin call them in order and hold no transaction themselves.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence

from emporium.platform.audit import store as audit_store
from emporium.platform.audit.entries import AuditContext
from emporium.platform.db.engine import Database
from emporium.platform.db.transaction import transaction
from emporium.platform.db.tx import Tx
from emporium.platform.errors import Conflict, NotFound
from emporium.platform.events import store
from emporium.platform.events.contracts import Envelope
from emporium.platform.events.store import Backlog, Claimed, DeadLetter
from emporium.platform.events.subscriptions import Delivery
from emporium.platform.pagination import Page
from emporium.platform.telemetry.tracing import traced


@traced
async def handle_once(db: Database, delivery: Delivery, effect: Callable[[Tx], Awaitable[None]]) -> bool:
    """Run `effect` and record the delivery in one transaction; skip it if it was recorded before.

    Returns False when the consumer had already processed this event.
    """
    async with transaction(db) as tx:
        if not await store.record_in_inbox(tx, delivery.consumer, delivery.event.id):
            return False
        await effect(tx)
        await tx.commit()
    return True


@traced
async def claim_batch(db: Database, worker: str, batch: int, lease_seconds: int) -> list[Claimed]:
    async with transaction(db) as tx:
        claimed = await store.claim(tx, worker, batch, lease_seconds)
        await tx.commit()
    return claimed


@traced
async def processed_consumers(db: Database, consumers: Sequence[str], event_ids: Sequence[str]) -> set[tuple[str, str]]:
    async with transaction(db) as tx:
        return await store.processed_consumers(tx, consumers, event_ids)


@traced
async def mark_delivered(db: Database, seqs: Sequence[int], via: str) -> None:
    async with transaction(db) as tx:
        await store.mark_delivered(tx, seqs, via)
        await tx.commit()


@traced
async def retry_later(db: Database, seq: int, attempts: int, error: str, delay_seconds: float) -> None:
    async with transaction(db) as tx:
        await store.schedule_retry(tx, seq, attempts, error, delay_seconds)
        await tx.commit()


@traced
async def give_up(db: Database, claimed: Claimed, attempts: int, errors: Mapping[str, str]) -> list[str]:
    """Dead-letter each failing consumer and take the event off the queue, in one transaction."""
    async with transaction(db) as tx:
        ids = [
            await store.insert_dead_letter(
                tx, claimed.event, consumer, error=error, attempts=attempts, first_failed_at=claimed.first_failed_at
            )
            for consumer, error in errors.items()
        ]
        summary = "; ".join(f"{consumer}: {error}" for consumer, error in sorted(errors.items()))
        await store.mark_dead_lettered(tx, claimed.seq, attempts, summary)
        await tx.commit()
    return ids


@traced
async def dead_letter_event(db: Database, event: Envelope, consumer: str, error: str, attempts: int) -> str:
    """A broker consumer gave up on an event (its outbox row was done when it was forwarded)."""
    async with transaction(db) as tx:
        dead_letter_id = await store.insert_dead_letter(
            tx, event, consumer, error=error, attempts=attempts, first_failed_at=None
        )
        await tx.commit()
    return dead_letter_id


@traced
async def release_claims(db: Database, seqs: Sequence[int], worker: str) -> None:
    if not seqs:
        return
    async with transaction(db) as tx:
        await store.release(tx, seqs, worker)
        await tx.commit()


@traced
async def backlog(db: Database) -> Backlog:
    """Undelivered events and the oldest one's age: for metrics and, later, load shedding."""
    async with transaction(db) as tx:
        return await store.backlog(tx)


@traced
async def list_dead_letters(
    db: Database, *, org_id: str | None, include_replayed: bool = False, cursor: str | None = None, limit: int = 50
) -> Page[DeadLetter]:
    async with transaction(db) as tx:
        return await store.list_dead_letters(
            tx, org_id=org_id, include_replayed=include_replayed, cursor=cursor, limit=limit
        )


@traced
async def get_dead_letter(db: Database, dead_letter_id: str, *, org_id: str | None) -> DeadLetter:
    """`org_id` None: any org (the operator's CLI); otherwise another org's letter is not found."""
    async with transaction(db) as tx:
        found = await store.get_dead_letter(tx, dead_letter_id, org_id)
    if found is None:
        raise NotFound(f"no dead letter {dead_letter_id!r}")
    return found


@traced
async def dead_letter_to_replay(db: Database, dead_letter_id: str, *, org_id: str | None) -> DeadLetter:
    letter = await get_dead_letter(db, dead_letter_id, org_id=org_id)
    if letter.replayed_at is not None:
        raise Conflict(
            f"dead letter {dead_letter_id!r} was already replayed", replayed_at=letter.replayed_at.isoformat()
        )
    return letter


@traced
async def mark_replayed(db: Database, dead_letter_id: str) -> DeadLetter:
    async with transaction(db) as tx:
        await store.mark_replayed(tx, dead_letter_id)
        letter = await store.get_dead_letter(tx, dead_letter_id)
        await tx.commit()
    assert letter is not None
    return letter


@traced
async def record_replay_failure(db: Database, dead_letter_id: str, error: str) -> None:
    async with transaction(db) as tx:
        await store.record_replay_failure(tx, dead_letter_id, error)
        await tx.commit()


@traced
async def history_page(
    db: Database, names: Sequence[str], *, org_id: str | None, after_seq: int, limit: int
) -> list[tuple[int, Envelope]]:
    """One page of the published events named `names`, oldest first (for rebuilding a read model)."""
    async with transaction(db) as tx:
        return await store.history_page(tx, names, org_id=org_id, after_seq=after_seq, limit=limit)


async def discard_dead_letter(db: Database, audit: AuditContext, dead_letter_id: str, *, org_id: str | None) -> None:
    """Give up on a dead letter for good (its consumer will never see the event); audited."""
    async with transaction(db) as tx:
        if not await store.delete_dead_letter(tx, dead_letter_id, org_id):
            raise NotFound(f"no dead letter {dead_letter_id!r}")
        await audit_store.record(tx, audit, dead_letter_id)
        await tx.commit()
