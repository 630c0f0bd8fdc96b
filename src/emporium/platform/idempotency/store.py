"""Idempotency key storage (service role)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert

from emporium.platform.db.tx import Tx
from emporium.platform.errors import Conflict
from emporium.platform.idempotency.tables import idempotency_key

RETENTION = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    status: int
    body: bytes
    content_type: str


@dataclass(slots=True)
class IdempotencyClaim:
    """What the edge derived from the request: the org, the client's key and the request's fingerprint.

    `answer` (set by the HTTP edge) renders an outcome — a domain result or a `DomainError` —
    as the response a retry will replay, so a workflow can store it in the same transaction
    as the effect (`complete_with`); `stored` is then what it stored.
    """

    org_id: str
    key: str
    fingerprint: str
    answer: Callable[[object], StoredAnswer] | None = field(default=None, compare=False)
    stored: StoredAnswer | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class StoredKey:
    fingerprint: str
    status: str  # in_flight | done
    resource_id: str | None
    response_status: int | None
    response_body: bytes | None
    response_content_type: str | None
    created_at: datetime


class KeyAlreadyClaimed(Conflict):
    code = "idempotency_key_in_flight"
    title = "A request with this Idempotency-Key is still being processed"


async def claim(tx: Tx, claim: IdempotencyClaim, resource_id: str | None) -> None:
    """Claim the key in the caller's transaction; raises KeyAlreadyClaimed if another request holds it.

    A key whose record expired (not purged yet) is taken over, as if it were new.
    """
    fresh = {
        "fingerprint": claim.fingerprint,
        "status": "in_flight",
        "resource_id": resource_id,
        "response_status": None,
        "response_body": None,
        "response_content_type": None,
        "created_at": func.now(),
        "completed_at": None,
        "expires_at": func.now() + RETENTION,
    }
    statement = (
        insert(idempotency_key)
        .values(org_id=claim.org_id, key=claim.key, **fresh)
        .on_conflict_do_update(
            index_elements=["org_id", "key"], set_=fresh, where=idempotency_key.c.expires_at <= func.now()
        )
        .returning(idempotency_key.c.key)
    )
    if (await tx.execute(statement)).first() is None:
        raise KeyAlreadyClaimed("this Idempotency-Key is in use by another request; retry later")


async def find(tx: Tx, org_id: str, key: str) -> StoredKey | None:
    query = select(
        idempotency_key.c.fingerprint,
        idempotency_key.c.status,
        idempotency_key.c.resource_id,
        idempotency_key.c.response_status,
        idempotency_key.c.response_body,
        idempotency_key.c.response_content_type,
        idempotency_key.c.created_at,
    ).where(idempotency_key.c.org_id == org_id, idempotency_key.c.key == key, idempotency_key.c.expires_at > func.now())
    row = (await tx.execute(query)).one_or_none()
    return StoredKey(**row._mapping) if row else None


async def complete(tx: Tx, org_id: str, key: str, status: int, body: bytes, content_type: str) -> bool:
    """Store the final answer of a claimed key (once); False if there is no claim to complete."""
    statement = (
        update(idempotency_key)
        .where(
            idempotency_key.c.org_id == org_id, idempotency_key.c.key == key, idempotency_key.c.status == "in_flight"
        )
        .values(
            status="done",
            response_status=status,
            response_body=body,
            response_content_type=content_type,
            completed_at=func.now(),
        )
        .returning(idempotency_key.c.key)
    )
    return (await tx.execute(statement)).first() is not None


async def complete_with(tx: Tx, claim: IdempotencyClaim, outcome: object) -> None:
    """Store the answer to `outcome` in the effect's own transaction (when the edge gave a renderer)."""
    if claim.answer is None:
        return
    answer = claim.answer(outcome)
    if await complete(tx, claim.org_id, claim.key, answer.status, answer.body, answer.content_type):
        claim.stored = answer


async def stale_in_flight(tx: Tx, older_than: timedelta, limit: int) -> list[tuple[str, str, str | None]]:
    """(org_id, key, resource_id) of claims left in flight by a request that never finished."""
    query = (
        select(idempotency_key.c.org_id, idempotency_key.c.key, idempotency_key.c.resource_id)
        .where(idempotency_key.c.status == "in_flight", idempotency_key.c.created_at < func.now() - older_than)
        .order_by(idempotency_key.c.created_at)
        .limit(limit)
    )
    return [(r.org_id, r.key, r.resource_id) for r in await tx.execute(query)]


async def release(tx: Tx, org_id: str, key: str) -> None:
    await tx.execute(
        delete(idempotency_key).where(
            idempotency_key.c.org_id == org_id, idempotency_key.c.key == key, idempotency_key.c.status == "in_flight"
        )
    )


async def purge_expired(tx: Tx) -> int:
    result = await tx.execute(delete(idempotency_key).where(idempotency_key.c.expires_at <= func.now()))
    return int(result.rowcount or 0)
