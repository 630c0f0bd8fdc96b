"""Outbox, inbox and dead-letter storage (service role: statements in the caller's transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Float, Integer, bindparam, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert

from emporium.platform.db.deferred import DeferredWrite, json_rows
from emporium.platform.db.keyset import keyset_page_query, time_id_key
from emporium.platform.db.tx import Tx
from emporium.platform.events.contracts import Envelope
from emporium.platform.events.tables import dead_letter, inbox, outbox
from emporium.platform.ids import new_id
from emporium.platform.pagination import Page, page_of

# Dispatchers LISTEN on this channel; a publishing transaction NOTIFYs it once, after its commit.
WAKE_CHANNEL = "emporium_outbox"

_OUTBOX_COLUMNS = "id, name, version, aggregate_type, aggregate_id, org_id, payload, trace_context, occurred_at"

# Every event of a transaction in one statement, just before its COMMIT (`Tx.write_before_commit`).
# First the transaction-scoped advisory lock of each aggregate it publishes for, in sorted order (two
# transactions publishing for the same aggregates cannot deadlock on them): the second of two such
# transactions waits for the first to end, so the aggregate's events take their `seq` in commit order
# and "lower seq first" is the aggregate's real order, which the dispatcher's claim relies on (decision
# 005). Taken at the end, the locks are held only from the insert to the commit. Then the rows, in
# publish order (`seq` is drawn as they are inserted).
_PUBLISH_SQL = f"""
    WITH locks AS (
        SELECT pg_advisory_xact_lock(hashtextextended(k, 0))
          FROM json_array_elements_text(CAST(:lock_keys AS json)) AS k
    ), events AS (
        SELECT * FROM ROWS FROM (
                   json_to_recordset(CAST(:events AS json)) AS (
                       id text, name text, version integer, aggregate_type text, aggregate_id text, org_id text,
                       payload jsonb, trace_context jsonb, occurred_at timestamptz))
               WITH ORDINALITY AS e(id, name, version, aggregate_type, aggregate_id, org_id, payload,
                                    trace_context, occurred_at, n)
    )
    INSERT INTO platform.outbox ({_OUTBOX_COLUMNS})
    SELECT {_OUTBOX_COLUMNS}
      FROM events CROSS JOIN (SELECT count(*) FROM locks) AS locked
     ORDER BY n
    RETURNING 1
    """  # noqa: S608 (constant SQL)


def _publish_params(events: list[Envelope]) -> dict[str, Any]:
    """The events as JSON rows (`json_rows`), and the sorted keys of their aggregates' locks."""
    return {
        "lock_keys": json_rows(sorted({f"{e.aggregate_type}/{e.aggregate_id}" for e in events})),
        "events": json_rows([e.to_json() for e in events]),
    }


_PUBLISH = DeferredWrite[Envelope]("outbox", _PUBLISH_SQL, _publish_params)

# Claim the heads of the pending queue: available, not leased by a live claim, and with no
# earlier pending event of the same aggregate (so each aggregate's events go one at a time,
# in order). SKIP LOCKED lets concurrent dispatchers take disjoint batches without waiting.
_CLAIM = (
    text(
        """
        WITH ready AS (
            SELECT o.seq FROM platform.outbox AS o
            WHERE o.delivered_at IS NULL
              AND o.available_at <= now()
              AND (o.claimed_until IS NULL OR o.claimed_until < now())
              AND NOT EXISTS (
                  SELECT 1 FROM platform.outbox AS earlier
                  WHERE earlier.aggregate_type = o.aggregate_type
                    AND earlier.aggregate_id = o.aggregate_id
                    AND earlier.seq < o.seq
                    AND earlier.delivered_at IS NULL
              )
            ORDER BY o.seq
            LIMIT :batch
            FOR UPDATE OF o SKIP LOCKED
        )
        UPDATE platform.outbox AS o
        SET claimed_by = :worker, claimed_until = now() + make_interval(secs => :lease)
        FROM ready WHERE o.seq = ready.seq
        RETURNING o.seq, o.id, o.name, o.version, o.aggregate_type, o.aggregate_id, o.org_id,
                  o.payload, o.trace_context, o.occurred_at, o.attempts, o.first_failed_at
        """
    )
    .bindparams(bindparam("lease", type_=Integer))
    .columns(payload=JSONB, trace_context=JSONB)
)


@dataclass(frozen=True, slots=True)
class Claimed:
    seq: int
    event: Envelope
    attempts: int
    first_failed_at: datetime | None


def insert_event(tx: Tx, event: Envelope) -> None:
    """Queue the event for the transaction's one outbox statement before COMMIT; the dispatchers are woken
    once, after the transaction commits (decision 021)."""
    tx.write_before_commit(_PUBLISH, event)
    tx.notify_after_commit(WAKE_CHANNEL)


_ENVELOPE_COLUMNS = (
    outbox.c.id,
    outbox.c.name,
    outbox.c.version,
    outbox.c.aggregate_type,
    outbox.c.aggregate_id,
    outbox.c.org_id,
    outbox.c.payload,
    outbox.c.occurred_at,
    outbox.c.trace_context,
)


def _envelope(row: Any) -> Envelope:
    return Envelope(
        id=row.id,
        name=row.name,
        version=row.version,
        aggregate_type=row.aggregate_type,
        aggregate_id=row.aggregate_id,
        org_id=row.org_id,
        payload=row.payload,
        occurred_at=row.occurred_at,
        trace_context=row.trace_context,
    )


async def history_page(
    tx: Tx, names: Sequence[str], *, org_id: str | None, after_seq: int, limit: int
) -> list[tuple[int, Envelope]]:
    """Published events named `names` (of one org, or all), in `seq` order after `after_seq`: the event history
    a read model is rebuilt from. Delivered rows are kept (nothing prunes the outbox: decision 028)."""
    query = (
        select(*_ENVELOPE_COLUMNS, outbox.c.seq)
        .where(outbox.c.seq > after_seq, outbox.c.name.in_(list(names)))
        .order_by(outbox.c.seq)
        .limit(limit)
    )
    if org_id is not None:
        query = query.where(outbox.c.org_id == org_id)
    result = await tx.execute(query)
    return [(row.seq, _envelope(row)) for row in result]


async def claim(tx: Tx, worker: str, batch: int, lease_seconds: int) -> list[Claimed]:
    rows = await tx.execute(_CLAIM, {"worker": worker, "batch": batch, "lease": lease_seconds})
    claimed = [Claimed(row.seq, _envelope(row), row.attempts, row.first_failed_at) for row in rows]
    return sorted(claimed, key=lambda c: c.seq)


# The dispatcher's per-batch and per-delivery statements, built once (a call binds values only; bind
# names are `p_*` because one named like a column is reserved in SET/VALUES).
_PENDING = outbox.c.delivered_at.is_(None)
_SEQS = outbox.c.seq.in_(bindparam("p_seqs", expanding=True))
_MARK_DELIVERED = (
    update(outbox)
    .where(_SEQS, _PENDING)
    .values(delivered_at=func.now(), delivered_via=bindparam("p_via"), claimed_by=None, claimed_until=None)
)
_FAILED: dict[str, Any] = {
    "attempts": bindparam("p_attempts"),
    "last_error": bindparam("p_error"),
    "first_failed_at": func.coalesce(outbox.c.first_failed_at, func.now()),
    "claimed_by": None,
    "claimed_until": None,
}
_MARK_DEAD_LETTERED = (
    update(outbox)
    .where(outbox.c.seq == bindparam("p_seq"), _PENDING)
    .values(**_FAILED, delivered_at=func.now(), delivered_via="dead_letter")
)
_SCHEDULE_RETRY = (
    update(outbox)
    .where(outbox.c.seq == bindparam("p_seq"), _PENDING)
    .values(
        **_FAILED,
        available_at=func.now() + func.make_interval(0, 0, 0, 0, 0, 0, bindparam("p_delay", type_=Float)),
    )
)
_RELEASE = (
    update(outbox)
    .where(_SEQS, outbox.c.claimed_by == bindparam("p_worker"), _PENDING)
    .values(claimed_by=None, claimed_until=None)
)
# Both columns of the inbox's primary key are given, so this is an index probe per (consumer, event) pair;
# by event id alone (the key's second column) PostgreSQL scans the whole inbox for every batch: 35-460 ms at
# 500,000 rows on this machine, against 2 ms this way, and it grows with the inbox.
_PROCESSED = text(
    "SELECT consumer, event_id FROM platform.inbox"
    " WHERE consumer = ANY(CAST(:p_consumers AS text[])) AND event_id = ANY(CAST(:p_event_ids AS text[]))"
)
_RECORD_IN_INBOX = (
    pg_insert(inbox)
    .values(consumer=bindparam("p_consumer"), event_id=bindparam("p_event_id"))
    .on_conflict_do_nothing(index_elements=[inbox.c.consumer, inbox.c.event_id])
    .returning(inbox.c.event_id)
)
_IN_INBOX = select(inbox.c.event_id).where(
    inbox.c.consumer == bindparam("p_consumer"), inbox.c.event_id == bindparam("p_event_id")
)


async def mark_delivered(tx: Tx, seqs: Sequence[int], via: str) -> None:
    await tx.execute(_MARK_DELIVERED, {"p_seqs": list(seqs), "p_via": via})


async def mark_dead_lettered(tx: Tx, seq: int, attempts: int, error: str) -> None:
    await tx.execute(_MARK_DEAD_LETTERED, {"p_seq": seq, "p_attempts": attempts, "p_error": error})


async def schedule_retry(tx: Tx, seq: int, attempts: int, error: str, delay_seconds: float) -> None:
    params = {"p_seq": seq, "p_attempts": attempts, "p_error": error, "p_delay": delay_seconds}
    await tx.execute(_SCHEDULE_RETRY, params)


async def release(tx: Tx, seqs: Sequence[int], worker: str) -> None:
    """Give claims back (shutdown at a safe point): another dispatcher may take them at once."""
    await tx.execute(_RELEASE, {"p_seqs": list(seqs), "p_worker": worker})


async def processed_consumers(tx: Tx, consumers: Sequence[str], event_ids: Sequence[str]) -> set[tuple[str, str]]:
    """Which of these consumers already processed which of these events (pairs in the inbox), for a batch
    about to be delivered."""
    rows = await tx.execute(_PROCESSED, {"p_consumers": list(consumers), "p_event_ids": list(event_ids)})
    return {(row.consumer, row.event_id) for row in rows}


async def record_in_inbox(tx: Tx, consumer: str, event_id: str) -> bool:
    """True the first time; False when this consumer already processed the event.

    A concurrent delivery of the same event waits on the primary key until the
    first transaction ends, then sees the row (False) or takes over if it rolled back.
    """
    result = await tx.execute(_RECORD_IN_INBOX, {"p_consumer": consumer, "p_event_id": event_id})
    return result.first() is not None


async def is_in_inbox(tx: Tx, consumer: str, event_id: str) -> bool:
    found = await tx.scalar(_IN_INBOX, {"p_consumer": consumer, "p_event_id": event_id})
    return found is not None


# --- dead letters -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: str
    event_id: str
    consumer: str
    event_name: str
    event_version: int
    org_id: str | None
    event: Envelope
    error: str
    attempts: int
    first_failed_at: datetime
    last_failed_at: datetime
    replayed_at: datetime | None


def _dead_letter(row: Any) -> DeadLetter:
    values = dict(row._mapping)
    values["event"] = Envelope.from_json(values["event"])
    return DeadLetter(**values)


async def insert_dead_letter(
    tx: Tx, event: Envelope, consumer: str, *, error: str, attempts: int, first_failed_at: datetime | None
) -> str:
    """Record a consumer that gave up on an event; a second death of the same pair updates the row."""
    statement = pg_insert(dead_letter).values(
        id=new_id("dlq"),
        event_id=event.id,
        consumer=consumer,
        event_name=event.name,
        event_version=event.version,
        org_id=event.org_id,
        event=event.to_json(),
        error=error,
        attempts=attempts,
        first_failed_at=func.coalesce(first_failed_at, func.now()),
        last_failed_at=func.now(),
    )
    upsert = statement.on_conflict_do_update(
        index_elements=[dead_letter.c.event_id, dead_letter.c.consumer],
        set_={
            "error": statement.excluded.error,
            "attempts": dead_letter.c.attempts + statement.excluded.attempts,
            "last_failed_at": func.now(),
            "replayed_at": None,
        },
    ).returning(dead_letter.c.id)
    return str(await tx.scalar(upsert))


async def get_dead_letter(
    tx: Tx, dead_letter_id: str, org_id: str | None = None, *, lock: bool = False
) -> DeadLetter | None:
    query = select(dead_letter).where(dead_letter.c.id == dead_letter_id)
    if org_id is not None:
        query = query.where(dead_letter.c.org_id == org_id)
    if lock:
        query = query.with_for_update()
    row = (await tx.execute(query)).first()
    return _dead_letter(row) if row else None


async def list_dead_letters(
    tx: Tx, *, org_id: str | None, include_replayed: bool, cursor: str | None, limit: int
) -> Page[DeadLetter]:
    query = select(dead_letter)
    if org_id is not None:
        query = query.where(dead_letter.c.org_id == org_id)
    if not include_replayed:
        query = query.where(dead_letter.c.replayed_at.is_(None))
    query = keyset_page_query(query, dead_letter.c.last_failed_at, dead_letter.c.id, cursor, limit, descending=True)
    rows = [_dead_letter(row) for row in await tx.execute(query)]
    return page_of(rows, limit, lambda d: time_id_key(d.last_failed_at, d.id))


async def mark_replayed(tx: Tx, dead_letter_id: str) -> None:
    await tx.execute(update(dead_letter).where(dead_letter.c.id == dead_letter_id).values(replayed_at=func.now()))


async def record_replay_failure(tx: Tx, dead_letter_id: str, error: str) -> None:
    await tx.execute(
        update(dead_letter)
        .where(dead_letter.c.id == dead_letter_id)
        .values(error=error, attempts=dead_letter.c.attempts + 1, last_failed_at=func.now())
    )


async def delete_dead_letter(tx: Tx, dead_letter_id: str, org_id: str | None) -> bool:
    query = delete(dead_letter).where(dead_letter.c.id == dead_letter_id)
    if org_id is not None:
        query = query.where(dead_letter.c.org_id == org_id)
    return bool((await tx.execute(query)).rowcount)


# --- backlog ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Backlog:
    """Undelivered events and the age of the oldest one (0 when there is none)."""

    size: int
    oldest_lag_seconds: float
    dead_letters: int = 0  # not yet replayed


async def backlog(tx: Tx) -> Backlog:
    row = (
        await tx.execute(
            select(
                func.count().label("size"),
                func.coalesce(func.extract("epoch", func.now() - func.min(outbox.c.occurred_at)), 0).label("lag"),
            ).where(outbox.c.delivered_at.is_(None))
        )
    ).one()
    dead = await tx.scalar(select(func.count()).select_from(dead_letter).where(dead_letter.c.replayed_at.is_(None)))
    return Backlog(int(row.size), max(0.0, float(row.lag)), int(dead or 0))


async def outbox_row(tx: Tx, event_id: str) -> dict[str, Any] | None:
    row = (await tx.execute(select(outbox).where(outbox.c.id == event_id))).first()
    return dict(row._mapping) if row else None
