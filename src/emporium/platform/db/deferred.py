"""Deferred writes: rows a transaction writes without reading them back, sent as ONE statement before COMMIT.

A checkout's first transaction writes its pending payment, its audit row, its outbox events and its
idempotency claim; none of them is read again in that transaction. Sent one by one they cost a round
trip each; queued with `Tx.write_before_commit` they go out together, as data-modifying CTEs of one
statement, just before the COMMIT:

    WITH w0 AS (<claim ... RETURNING 1>), w1 AS (<payment ... RETURNING 1>), w2 AS (<outbox ... RETURNING 1>)
    SELECT (SELECT count(*) FROM w0), (SELECT count(*) FROM w1), (SELECT count(*) FROM w2)

Each kind of write is a `DeferredWrite`: its SQL (one data-modifying statement ending in `RETURNING`,
with `:named` binds, which may start with its own `WITH`), the types of its binds, how its queued
items become bind values, optionally a `RowCheck` (the number of rows a conditional write must write,
checked by PostgreSQL inside the statement: a mismatch fails the statement, so nothing of any kind is
written, and the caller gets the check's exception), optionally what to do with the number of rows
it wrote once the statement succeeded, and optionally columns of its one row the caller gets back (what
the database decides as it writes: a default, a value read inside the statement). A kind that may write
several rows binds them as one JSON text (`json_rows`, read with `json_to_recordset`), unless it joins a
large table (see `json_rows`). Each write keeps its
SQL in the module that owns its table; this module only combines them. PostgreSQL runs every CTE of the
statement against the same snapshot and to completion; no two of them may write the same row, which
holds because each kind writes its own table. The columns of the combined statement's one row are
evaluated left to right, so the writes run, and their checks refuse, in the order they were queued.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic_core import to_json
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
    # Checked inside the statement (see `RowCheck`): a mismatch fails it, so nothing is written.
    check: RowCheck | None = None
    # Called with the items and the number of rows written, once the statement succeeded (not a check:
    # in a transaction of this one statement, the rows are already committed when it runs).
    written: Callable[[list[T], int], None] | None = None
    # Columns of its RETURNING selected next to its count, for a write of one row: the caller reads them
    # from the `Returned` that `Tx.write_before_commit` gave it, once the statement succeeded.
    returning: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if "returning" not in self.sql.lower():
            raise ValueError(f"deferred write {self.name!r} must end in RETURNING (its rows are counted)")


class Returned:
    """The `returning` columns of a deferred write's row, once the statement that wrote it succeeded."""

    __slots__ = ("_values",)

    def __init__(self, values: tuple[Any, ...] | None = None) -> None:
        self._values = values

    def fill(self, values: tuple[Any, ...]) -> None:
        """Called by the transaction once the statement succeeded."""
        self._values = values

    @property
    def values(self) -> tuple[Any, ...]:
        if self._values is None:
            raise RuntimeError("the deferred writes have not been sent yet (read this after COMMIT)")
        return self._values


def json_rows(rows: Sequence[Mapping[str, Any] | str]) -> str:
    """The rows of a write of several rows as one JSON bind, for `json_to_recordset(CAST(:rows AS json))`
    (or a list of texts, for `json_array_elements_text`).

    One bind per column (`unnest` of arrays) costs more than the rest of the write: asyncpg encodes an array
    element by element, testing each against `collections.abc` classes, and SQLAlchemy copies each array
    first; one JSON text is one call of pydantic's serializer (a quarter of `json.dumps`'s time). Values must
    be JSON already (a time as its ISO 8601 text); a column read as `jsonb` takes a nested object as it is,
    without an encoding of its own. Not for rows joined to a large table: a generic plan guesses 100 rows
    for `json_to_recordset` (10 for `unnest` of a bind), which can turn an index lookup into a scan
    (`catalog.RESERVE_AT_COMMIT` keeps its arrays for that reason)."""
    return to_json(rows).decode()


def _prefixed(sql: str, prefix: str) -> str:
    """The SQL with every bind renamed `:<prefix><name>`, so two writes' binds cannot collide."""
    return _BIND.sub(lambda match: f":{prefix}{match.group(1)}", sql)


class RowsMoved(RuntimeError):
    """A conditional deferred write found its row no longer in the state the caller held (another writer
    moved it first). Raised at COMMIT, so nothing of the transaction is written; the caller redoes its
    work reading the rows as they are now."""


# The SQLSTATE `platform.deferred_write_check` raises (migration 0013); its DETAIL names the CTE (`w2`).
ROW_CHECK_SQLSTATE = "EM409"


@dataclass(frozen=True)
class RowCheck:
    """How many rows a conditional deferred write must write, and what the caller gets otherwise.

    Checked by PostgreSQL, in the combined statement itself (`platform.deferred_write_check` raises):
    the statement fails, so no kind is written, also when the statement is the whole transaction."""

    rows: int | str  # a number, or the name of one of the write's binds that holds it (e.g. one row per line)
    refusal: Callable[[int], Exception]  # called with the number of rows written instead


def exactly_one_row(what: str) -> RowCheck:
    """A row check for a conditional write of one row: anything else means another writer moved it."""
    return RowCheck(1, lambda rows: RowsMoved(f"{what}: {rows} rows matched, expected 1"))


_combined: dict[tuple[tuple[DeferredWrite[Any], ...], bool], TextClause] = {}
NOTIFY_BIND = "notify_channels"
_NOTIFY_COLUMN = (
    "(SELECT count(pg_notify(c, '')) FROM json_array_elements_text(CAST(:notify_channels AS json)) AS c) AS woken"
)


def combined_statement(writes: Sequence[DeferredWrite[Any]], *, notify: bool = False) -> TextClause:
    """The one statement for these kinds of write, in this order (built once per combination). With
    `notify`, it also NOTIFYs the channels bound as `notify_channels`, a JSON list (an extra last column)."""
    key = (tuple(writes), notify)
    found = _combined.get(key)
    if found is not None:
        return found
    ctes: list[str] = []
    binds: list[BindParameter[Any]] = []
    columns: list[str] = []
    for n, write in enumerate(writes):
        prefix = f"w{n}_"
        ctes.append(f"w{n} AS ({_prefixed(write.sql, prefix)})")
        binds.extend(bindparam(prefix + name, type_=type_) for name, type_ in write.types.items())
        count = f"(SELECT count(*) FROM w{n})"  # noqa: S608 (constant SQL)
        if write.check is not None:
            rows = write.check.rows
            expected = f"CAST(:{prefix}{rows} AS integer)" if isinstance(rows, str) else str(rows)
            count = f"platform.deferred_write_check({count}, {expected}, 'w{n}')"
        columns.append(f"{count} AS w{n}")
        columns.extend(
            f"(SELECT {column} FROM w{n}) AS w{n}_{column}"  # noqa: S608 (column names declared in code)
            for column in write.returning
        )
    if notify:
        columns.append(_NOTIFY_COLUMN)
    statement = text(f"WITH {', '.join(ctes)} SELECT {', '.join(columns)}")
    if binds:
        statement = statement.bindparams(*binds)
    _combined[key] = statement
    return statement


def refusal_of(error: BaseException, writes: Sequence[DeferredWrite[Any]]) -> Exception | None:
    """The row check's exception when `error` is `platform.deferred_write_check` refusing one of `writes`."""
    orig = getattr(error, "orig", None)
    if getattr(orig, "sqlstate", None) != ROW_CHECK_SQLSTATE:
        return None
    detail = getattr(getattr(orig, "__cause__", None), "detail", None) or ""
    name, _, rows = detail.partition(":")
    index = int(name[1:]) if name[1:].isdigit() else -1
    check = writes[index].check if 0 <= index < len(writes) else None
    if check is None:
        return None
    return check.refusal(int(rows) if rows.isdigit() else -1)


def combined_params(queued: Mapping[DeferredWrite[Any], list[Any]]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for n, (write, items) in enumerate(queued.items()):
        values.update({f"w{n}_{name}": value for name, value in write.params(items).items()})
    return values
