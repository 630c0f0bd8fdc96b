"""Deferred writes: rows a transaction writes without reading them back, sent as ONE statement before COMMIT.

A checkout's first transaction writes its pending payment, its audit row, its outbox events and its
idempotency claim; none of them is read again in that transaction. Sent one by one they cost a round
trip each; queued with `Tx.write_before_commit` they go out together, as data-modifying CTEs of one
statement, just before the COMMIT:

    WITH w0 AS (<claim ... RETURNING 1>), w1 AS (<payment ... RETURNING 1>), w2 AS (<outbox ... RETURNING 1>)
    SELECT (SELECT count(*) FROM w0), (SELECT count(*) FROM w1), (SELECT count(*) FROM w2)

Each kind of write is a `DeferredWrite`: its SQL (one data-modifying statement ending in `RETURNING`,
with `:named` binds, which may start with its own `WITH`), the types of its binds, how its queued
items become bind values, and optionally what to do with the number of rows it wrote (a conditional
write, such as a claim, raises there to roll the transaction back). Each write keeps its SQL in the
module that owns its table; this module only combines them. PostgreSQL runs every CTE of the
statement against the same snapshot and to completion; no two of them may write the same row, which
holds because each kind writes its own table.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import BindParameter, TextClause, bindparam, text
from sqlalchemy.types import TypeEngine

T = TypeVar("T")

# A bind as SQLAlchemy's text() reads one: `:name`, not the second colon of a `::type` cast.
_BIND = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


@dataclass(frozen=True, eq=False)
class DeferredWrite(Generic[T]):
    """One kind of deferred write. Compared by identity: declare each once, at module level."""

    name: str
    sql: str
    params: Callable[[list[T]], Mapping[str, Any]]
    types: Mapping[str, TypeEngine[Any]] = field(default_factory=dict)
    # Called with the items and the number of rows the statement returned, after it ran, before COMMIT.
    written: Callable[[list[T], int], None] | None = None

    def __post_init__(self) -> None:
        if "returning" not in self.sql.lower():
            raise ValueError(f"deferred write {self.name!r} must end in RETURNING (its rows are counted)")


def _prefixed(sql: str, prefix: str) -> str:
    """The SQL with every bind renamed `:<prefix><name>`, so two writes' binds cannot collide."""
    return _BIND.sub(lambda match: f":{prefix}{match.group(1)}", sql)


class RowsMoved(RuntimeError):
    """A conditional deferred write found its row no longer in the state the caller held (another writer
    moved it first). Raised at COMMIT, so the transaction rolls back; the caller redoes its work reading
    the rows as they are now."""


def exactly_one_row(what: str) -> Callable[[list[Any], int], None]:
    """A row check for a conditional write of one row: anything else means another writer moved it."""

    def check(_: list[Any], rows: int) -> None:
        if rows != 1:
            raise RowsMoved(f"{what}: {rows} rows matched, expected 1")

    return check


_combined: dict[tuple[DeferredWrite[Any], ...], TextClause] = {}


def combined_statement(writes: Sequence[DeferredWrite[Any]]) -> TextClause:
    """The one statement for these kinds of write, in this order (built once per combination)."""
    key = tuple(writes)
    found = _combined.get(key)
    if found is not None:
        return found
    ctes: list[str] = []
    binds: list[BindParameter[Any]] = []
    for n, write in enumerate(writes):
        prefix = f"w{n}_"
        ctes.append(f"w{n} AS ({_prefixed(write.sql, prefix)})")
        binds.extend(bindparam(prefix + name, type_=type_) for name, type_ in write.types.items())
    counts = ", ".join(f"(SELECT count(*) FROM w{n}) AS w{n}" for n in range(len(writes)))  # noqa: S608
    statement = text(f"WITH {', '.join(ctes)} SELECT {counts}")
    if binds:
        statement = statement.bindparams(*binds)
    _combined[key] = statement
    return statement


def combined_params(queued: Mapping[DeferredWrite[Any], list[Any]]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for n, (write, items) in enumerate(queued.items()):
        values.update({f"w{n}_{name}": value for name, value in write.params(items).items()})
    return values
