"""Idempotency workflows: look a key up, store a final answer, purge expired keys."""

from __future__ import annotations

from datetime import timedelta

from emporium.platform.db.engine import Database
from emporium.platform.db.transaction import transaction
from emporium.platform.idempotency import store
from emporium.platform.idempotency.store import IdempotencyClaim, StoredKey
from emporium.platform.telemetry.tracing import traced


@traced
async def find_key(db: Database, org_id: str, key: str) -> StoredKey | None:
    async with transaction(db) as tx:
        return await store.find(tx, org_id, key)


@traced
async def complete_key(db: Database, org_id: str, key: str, status: int, body: bytes, content_type: str) -> bool:
    async with transaction(db) as tx:
        done = await store.complete(tx, org_id, key, status, body, content_type)
        await tx.commit()
    return done


@traced
async def stale_keys(db: Database, older_than: timedelta, limit: int = 100) -> list[tuple[str, str, str | None]]:
    async with transaction(db) as tx:
        return await store.stale_in_flight(tx, older_than, limit)


@traced
async def purge_expired_keys(db: Database) -> int:
    async with transaction(db) as tx:
        removed = await store.purge_expired(tx)
        await tx.commit()
    return removed


@traced
async def claim_key(db: Database, claim: IdempotencyClaim, resource_id: str | None = None) -> None:
    """Claim a key in a transaction of its own, for effects that are idempotent by the key themselves."""
    async with transaction(db) as tx:
        store.claim(tx, claim, resource_id)
        await tx.commit()


@traced
async def release_key(db: Database, org_id: str, key: str) -> None:
    """Forget an in-flight claim whose request died, so the client's retry runs the (idempotent) effect again."""
    async with transaction(db) as tx:
        await store.release(tx, org_id, key)
        await tx.commit()
