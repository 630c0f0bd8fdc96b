"""Idempotency key storage (service role)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Interval, LargeBinary, SmallInteger, Text, bindparam, delete, func, select, text
from sqlalchemy.types import TypeEngine

from emporium.platform.db.deferred import DeferredWrite, RowCheck
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

# A claim: a new record, or one that takes over a record that expired but is not purged yet. A claim
# another request holds (in flight or done, and not expired) is left alone: no row comes back. A claim
# still being committed by another transaction is waited for (its unique-index entry), then found.
_CLAIM_SQL = """
    INSERT INTO platform.idempotency_key AS k
           (org_id, key, fingerprint, status, resource_id, created_at, expires_at)
    VALUES (:org_id, :key, :fingerprint, 'in_flight', :resource_id, now(), now() + :retention)
    ON CONFLICT (org_id, key) DO UPDATE
       SET fingerprint = excluded.fingerprint, status = 'in_flight', resource_id = excluded.resource_id,
           response_status = NULL, response_body = NULL, response_content_type = NULL,
           created_at = now(), completed_at = NULL, expires_at = excluded.expires_at
     WHERE k.expires_at <= now()
    RETURNING 1
"""
_CLAIM_TYPES: dict[str, TypeEngine[Any]] = {"retention": Interval()}


def _claim_params(claims: list[tuple[IdempotencyClaim, str | None]]) -> dict[str, object]:
    ((claim, resource_id),) = claims  # one key per request, one request per transaction
    return {
        "org_id": claim.org_id,
        "key": claim.key,
        "fingerprint": claim.fingerprint,
        "resource_id": resource_id,
        "retention": RETENTION,
    }


def _held_by_another(_: int) -> KeyAlreadyClaimed:
    return KeyAlreadyClaimed("this Idempotency-Key is in use by another request; retry later")


_CLAIM = DeferredWrite[tuple[IdempotencyClaim, str | None]](
    "idempotency_claim", _CLAIM_SQL, _claim_params, _CLAIM_TYPES, check=RowCheck(1, _held_by_another)
)
_CLAIM_NOW = text(_CLAIM_SQL).bindparams(bindparam("retention", type_=Interval()))

# The final answer of a claimed key, stored once (only an in-flight claim takes it).
_COMPLETE_SQL = """
    UPDATE platform.idempotency_key
       SET status = 'done', response_status = :status, response_body = :body,
           response_content_type = :content_type, completed_at = now()
     WHERE org_id = :org_id AND key = :key AND status = 'in_flight'
    RETURNING 1
"""
_COMPLETE_TYPES: dict[str, TypeEngine[Any]] = {"status": SmallInteger(), "body": LargeBinary(), "content_type": Text()}


def _answer_params(answers: list[tuple[IdempotencyClaim, StoredAnswer]]) -> dict[str, object]:
    ((claim, answer),) = answers
    return {
        "org_id": claim.org_id,
        "key": claim.key,
        "status": answer.status,
        "body": answer.body,
        "content_type": answer.content_type,
    }


def _answered(answers: list[tuple[IdempotencyClaim, StoredAnswer]], rows: int) -> None:
    ((claim, answer),) = answers
    if rows == 1:
        claim.stored = answer


_ANSWER = DeferredWrite[tuple[IdempotencyClaim, StoredAnswer]](
    "idempotency_answer", _COMPLETE_SQL, _answer_params, _COMPLETE_TYPES, written=_answered
)
_COMPLETE = text(_COMPLETE_SQL).bindparams(*(bindparam(n, type_=t) for n, t in _COMPLETE_TYPES.items()))

_FIND = select(
    _c.fingerprint,
    _c.status,
    _c.resource_id,
    _c.response_status,
    _c.response_body,
    _c.response_content_type,
    _c.created_at,
).where(*_KEY_IS, _c.expires_at > func.now())
_RELEASE = delete(idempotency_key).where(*_KEY_IS, _c.status == "in_flight")


def claim(tx: Tx, claim: IdempotencyClaim, resource_id: str | None) -> None:
    """Claim the key in the caller's transaction, with its deferred writes just before COMMIT: the commit
    raises KeyAlreadyClaimed (and rolls back) if another request holds the key.

    A key whose record expired (not purged yet) is taken over, as if it were new.
    """
    tx.write_before_commit(_CLAIM, (claim, resource_id))


async def held_elsewhere(tx: Tx, claim: IdempotencyClaim) -> bool:
    """Whether another request holds the key, waiting for one still committing; claims it in `tx`, which
    the caller rolls back (a probe, for a request refused before its own claim was written)."""
    params = _claim_params([(claim, None)])
    return (await tx.execute(_CLAIM_NOW, params)).first() is None


async def find(tx: Tx, org_id: str, key: str) -> StoredKey | None:
    row = (await tx.execute(_FIND, {"p_org_id": org_id, "p_key": key})).one_or_none()
    return StoredKey(**row._mapping) if row else None


async def complete(tx: Tx, org_id: str, key: str, status: int, body: bytes, content_type: str) -> bool:
    """Store the final answer of a claimed key (once); False if there is no claim to complete."""
    params = {"org_id": org_id, "key": key, "status": status, "body": body, "content_type": content_type}
    return (await tx.execute(_COMPLETE, params)).first() is not None


def complete_with(tx: Tx, claim: IdempotencyClaim, outcome: object) -> None:
    """Store the answer to `outcome` in the effect's own transaction (when the edge gave a renderer), with
    its deferred writes just before COMMIT; `claim.stored` is set once that statement stored it."""
    if claim.answer is None:
        return
    tx.write_before_commit(_ANSWER, (claim, claim.answer(outcome)))


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
