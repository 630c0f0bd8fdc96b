"""Idempotency key storage (service role)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, func, select, update
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


# Statements are built once, here, with bind parameters (named `p_*`: a bind named like a column is
# reserved in VALUES/SET): a call only binds values, and SQLAlchemy finds the compiled form in its cache
# by the statement's memoised cache key instead of building and hashing a new expression tree per request.
_c = idempotency_key.c
_KEY_IS = (_c.org_id == bindparam("p_org_id"), _c.key == bindparam("p_key"))

# A claim's columns when new, or when it takes over a record that expired but is not purged yet.
_FRESH = {
    "fingerprint": bindparam("p_fingerprint"),
    "status": "in_flight",
    "resource_id": bindparam("p_resource_id"),
    "response_status": None,
    "response_body": None,
    "response_content_type": None,
    "created_at": func.now(),
    "completed_at": None,
    "expires_at": func.now() + RETENTION,
}
_CLAIM = (
    insert(idempotency_key)
    .values(org_id=bindparam("p_org_id"), key=bindparam("p_key"), **_FRESH)
    .on_conflict_do_update(index_elements=["org_id", "key"], set_=_FRESH, where=_c.expires_at <= func.now())
    .returning(_c.key)
)
_FIND = select(
    _c.fingerprint,
    _c.status,
    _c.resource_id,
    _c.response_status,
    _c.response_body,
    _c.response_content_type,
    _c.created_at,
).where(*_KEY_IS, _c.expires_at > func.now())
_COMPLETE = (
    update(idempotency_key)
    .where(*_KEY_IS, _c.status == "in_flight")
    .values(
        status="done",
        response_status=bindparam("p_status"),
        response_body=bindparam("p_body"),
        response_content_type=bindparam("p_content_type"),
        completed_at=func.now(),
    )
    .returning(_c.key)
)
_RELEASE = delete(idempotency_key).where(*_KEY_IS, _c.status == "in_flight")


async def claim(tx: Tx, claim: IdempotencyClaim, resource_id: str | None) -> None:
    """Claim the key in the caller's transaction; raises KeyAlreadyClaimed if another request holds it.

    A key whose record expired (not purged yet) is taken over, as if it were new.
    """
    params = {"p_org_id": claim.org_id, "p_key": claim.key, "p_fingerprint": claim.fingerprint}
    if (await tx.execute(_CLAIM, {**params, "p_resource_id": resource_id})).first() is None:
        raise KeyAlreadyClaimed("this Idempotency-Key is in use by another request; retry later")


async def find(tx: Tx, org_id: str, key: str) -> StoredKey | None:
    row = (await tx.execute(_FIND, {"p_org_id": org_id, "p_key": key})).one_or_none()
    return StoredKey(**row._mapping) if row else None


async def complete(tx: Tx, org_id: str, key: str, status: int, body: bytes, content_type: str) -> bool:
    """Store the final answer of a claimed key (once); False if there is no claim to complete."""
    params = {"p_org_id": org_id, "p_key": key, "p_status": status, "p_body": body, "p_content_type": content_type}
    return (await tx.execute(_COMPLETE, params)).first() is not None


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
        select(_c.org_id, _c.key, _c.resource_id)
        .where(_c.status == "in_flight", _c.created_at < func.now() - older_than)
        .order_by(_c.created_at)
        .limit(limit)
    )
    return [(r.org_id, r.key, r.resource_id) for r in await tx.execute(query)]


async def release(tx: Tx, org_id: str, key: str) -> None:
    await tx.execute(_RELEASE, {"p_org_id": org_id, "p_key": key})


async def purge_expired(tx: Tx) -> int:
    result = await tx.execute(delete(idempotency_key).where(_c.expires_at <= func.now()))
    return int(result.rowcount or 0)
