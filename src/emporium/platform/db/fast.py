"""Repeated statements straight to asyncpg: SQLAlchemy compiles them once, asyncpg runs them (decision 015).

SQLAlchemy Core builds every statement of the project and compiles it for asyncpg. Executing one through
its engine then costs 3-4x asyncpg's own CPU per call (cache-key lookup, parameter processing, the
greenlet bridge, result wrapping): more than the rest of a checkout's Python together. So a statement
*object* executed a second time (the module-level statements, built once) is compiled here once and then
run on the connection's asyncpg connection directly, as a prepared statement kept per connection; one
built per call keeps going through SQLAlchemy, whose compiled cache suits it. What changes for a caller:
nothing it uses. Results offer the part of SQLAlchemy's `Result` API the services use (rows by attribute,
index or `_mapping`); errors are SQLAlchemy's exceptions, with a dead connection invalidated as
SQLAlchemy would. Statements SQLAlchemy must rewrite per call (expanding `IN`), or whose results it
converts, stay on its path; so does everything on an engine someone listens to for its statements
(`TRACE_SQL`'s span per statement, a test counting statements): those listeners see every statement.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ClauseElement, Executable

_REQUIRED = object()


@dataclass(frozen=True, slots=True)
class _Bind:
    """Where one positional parameter's value comes from, as SQLAlchemy's `construct_params` decides it:
    the caller's values by the bind's key (or its compiled name), else the value bound in the statement."""

    key: str
    name: str
    value: Any  # _REQUIRED: the caller must give it
    process: Callable[[Any], Any] | None

    def of(self, params: Mapping[str, Any]) -> Any:
        if self.key in params:
            value = params[self.key]
        elif self.name in params:
            value = params[self.name]
        elif self.value is _REQUIRED:
            raise sa_exc.InvalidRequestError(f"A value is required for bind parameter {self.key!r}")
        else:
            value = self.value
        return value if self.process is None else self.process(value)


@dataclass(frozen=True, slots=True)
class _Plan:
    sql: str
    binds: tuple[_Bind, ...]
    returns_status: bool  # DML without RETURNING: the caller may read `rowcount`


_NOT_ELIGIBLE = object()
# id(statement) -> (weak reference to it, its plan / _NOT_ELIGIBLE / None when seen once)
_plans: dict[int, tuple[weakref.ref[Executable], object]] = {}
_prepared: weakref.WeakKeyDictionary[asyncpg.Connection, dict[str, asyncpg.prepared_stmt.PreparedStatement]] = (
    weakref.WeakKeyDictionary()
)


def _forget(key: int) -> Callable[[object], None]:
    plans = _plans  # held here: at interpreter exit the module's globals may be gone before the statements

    def forget(_: object) -> None:
        plans.pop(key, None)

    return forget


def _plan(statement: Executable, dialect: Dialect, *, kept: bool = False) -> _Plan | None:
    """The statement's plan from its second execution on (or its first, when the caller says it is `kept`:
    built once and reused, like the deferred writes' combined statements)."""
    key = id(statement)
    entry = _plans.get(key)
    if entry is None or entry[0]() is not statement:
        entry = _plans[key] = (weakref.ref(statement, _forget(key)), None)  # seen once: SQLAlchemy runs it
        if not kept:
            return None
    found = entry[1]
    if found is None:
        found = _compile(statement, dialect)
        _plans[key] = (entry[0], found)
    return found if isinstance(found, _Plan) else None


def _compile(statement: Executable, dialect: Dialect) -> object:
    if not isinstance(statement, ClauseElement):
        return _NOT_ELIGIBLE
    compiled = statement.compile(dialect=dialect)
    if compiled.post_compile_params or compiled.literal_execute_params:  # type: ignore[attr-defined]
        return _NOT_ELIGIBLE
    for column in getattr(compiled, "_result_columns", ()):
        if column[3]._cached_result_processor(dialect, None) is not None:
            return _NOT_ELIGIBLE
    processors = compiled._bind_processors  # type: ignore[attr-defined]
    escaped = compiled.escaped_bind_names  # type: ignore[attr-defined]
    by_name: dict[str, _Bind] = {}
    for bind, name in compiled.bind_names.items():  # type: ignore[attr-defined]
        if bind.callable is not None:
            return _NOT_ELIGIBLE
        positional = escaped.get(name, name)
        value = _REQUIRED if bind.required else bind.value
        by_name[positional] = _Bind(bind.key, name, value, processors.get(positional))
    is_dml = compiled.isinsert or compiled.isupdate or compiled.isdelete  # type: ignore[attr-defined]
    returning = getattr(compiled, "effective_returning", None) or getattr(compiled, "returning", None)
    return _Plan(
        sql=compiled.string,
        binds=tuple(by_name[name] for name in compiled.positiontup or ()),  # type: ignore[attr-defined]
        returns_status=bool(is_dml and not returning),
    )


class Row:
    """A row by attribute (`row.id`), by position or name (`row[0]`, `row["id"]`), or as `row._mapping`."""

    __slots__ = ("_record",)

    def __init__(self, record: asyncpg.Record) -> None:
        self._record = record

    def __getattr__(self, name: str) -> Any:
        try:
            return self._record[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, key: int | str) -> Any:
        return self._record[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._record.values())

    def __len__(self) -> int:
        return len(self._record)

    def __eq__(self, other: object) -> bool:
        return tuple(self) == (tuple(other) if isinstance(other, Row | tuple) else other)

    def __hash__(self) -> int:
        return hash(tuple(self))

    @property
    def _mapping(self) -> Mapping[str, Any]:
        return dict(self._record.items())

    def _asdict(self) -> dict[str, Any]:
        return dict(self._record.items())

    def _tuple(self) -> tuple[Any, ...]:
        return tuple(self)


class _Scalars:
    def __init__(self, values: list[Any]) -> None:
        self._values = values

    def all(self) -> list[Any]:
        return self._values

    def first(self) -> Any:
        return self._values[0] if self._values else None

    def one(self) -> Any:
        return _exactly_one(self._values)

    def one_or_none(self) -> Any:
        return _at_most_one(self._values)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)


class _Mappings(_Scalars):
    pass


def _exactly_one(items: Sequence[Any]) -> Any:
    if not items:
        raise sa_exc.NoResultFound("No row was found when one was required")
    return _at_most_one(items)


def _at_most_one(items: Sequence[Any]) -> Any:
    if len(items) > 1:
        raise sa_exc.MultipleResultsFound("Multiple rows were found when one or none was required")
    return items[0] if items else None


class Result:
    """The rows of one statement (all fetched), with SQLAlchemy's `Result` methods the services use."""

    __slots__ = ("_rowcount", "_rows")

    def __init__(self, rows: list[Row], rowcount: int) -> None:
        self._rows = rows
        self._rowcount = rowcount

    @property
    def rowcount(self) -> int:
        return self._rowcount

    def all(self) -> list[Row]:
        return self._rows

    def fetchall(self) -> list[Row]:
        return self._rows

    def first(self) -> Row | None:
        return self._rows[0] if self._rows else None

    def one(self) -> Row:
        return _exactly_one(self._rows)  # type: ignore[no-any-return]

    def one_or_none(self) -> Row | None:
        return _at_most_one(self._rows)  # type: ignore[no-any-return]

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None

    def scalar_one(self) -> Any:
        return _exactly_one(self._rows)[0]

    def scalar_one_or_none(self) -> Any:
        row = _at_most_one(self._rows)
        return row[0] if row is not None else None

    def scalars(self) -> _Scalars:
        return _Scalars([row[0] for row in self._rows])

    def mappings(self) -> _Mappings:
        return _Mappings([row._mapping for row in self._rows])

    def __iter__(self) -> Iterator[Row]:
        return iter(self._rows)


async def run(conn: AsyncConnection, statement: Executable, params: Mapping[str, Any] | None = None) -> Any:
    """Run `statement` on `conn`: on asyncpg directly when it is a repeated one, else through SQLAlchemy."""
    result = await execute(conn, statement, params)
    return result if result is not None else await conn.execute(statement, params)


def _rowcount(status: str) -> int:
    tail = status.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else -1


def eligible(conn: AsyncConnection) -> bool:
    """asyncpg's connection (another store, e.g. reporting's MariaDB, keeps SQLAlchemy's path), and nobody
    listening for each statement on its engine (they must see every statement)."""
    return conn.dialect.driver == "asyncpg" and not conn.sync_engine.dispatch.before_cursor_execute


# SQLAlchemy's adapter of the connection, asyncpg's connection, and the dialect statements compile for.
Driver = tuple[Any, asyncpg.Connection, Dialect]


async def driver_of(conn: AsyncConnection) -> Driver:
    """The pooled connection's driver objects (a transaction asks once, not per statement). Read from the
    checked-out connection directly when it is there: asking SQLAlchemy costs a trip through its greenlet."""
    sync = conn.sync_connection
    if sync is not None and not sync.closed and not sync.invalidated:
        adapted: Any = sync.connection.dbapi_connection
    else:
        adapted = (await conn.get_raw_connection()).dbapi_connection
    return adapted, adapted._connection, conn.dialect


async def end(conn: AsyncConnection, driver: Driver, *, commit: bool) -> None:
    """COMMIT (or ROLLBACK) the transaction this module began on the driver, if one is open: for a
    transaction SQLAlchemy never began itself (every statement came here), so ending it on the driver
    directly saves SQLAlchemy's greenlet trip. SQLAlchemy's errors, as `execute` raises them."""
    adapted = driver[0]
    transaction = adapted._transaction
    if transaction is None:
        return
    sync = conn.sync_connection
    if not commit and (sync is None or sync.invalidated or sync.closed):
        adapted._transaction = None  # the connection is gone: the server rolled back with it (as SQLAlchemy does)
        return
    try:
        await adapted._call_and_discard(transaction.commit if commit else transaction.rollback)
    except Exception as error:
        raise await _as_sqlalchemy_error(conn, adapted, error, "COMMIT" if commit else "ROLLBACK", None) from error


async def execute(
    conn: AsyncConnection,
    statement: Executable,
    params: Mapping[str, Any] | None,
    driver: Driver | None = None,
    *,
    alone: bool = False,
) -> Result | None:
    """Run `statement` on asyncpg directly when it is one of the repeated ones; None: run it through SQLAlchemy.

    `alone`: the statement is the whole transaction (nothing ran before it, nothing will after): it runs
    without BEGIN, as PostgreSQL's implicit transaction of one statement, which commits when it succeeds
    and writes nothing when it fails. One round trip instead of three (BEGIN, statement, COMMIT).
    A caller passing `driver` has checked `eligible(conn)`."""
    if driver is None:
        if not eligible(conn):
            return None
        driver = await driver_of(conn)
    adapted, raw, dialect = driver
    plan = _plan(statement, dialect, kept=alone)
    if plan is None:
        return None
    values = params or {}
    args = [bind.of(values) for bind in plan.binds]
    try:
        if adapted._transaction is None and not alone:  # SQLAlchemy begins lazily, at the first statement
            await adapted._start_transaction()
        statements = _prepared.setdefault(raw, {})
        prepared = statements.get(plan.sql)
        if prepared is None:
            prepared = statements[plan.sql] = await raw.prepare(plan.sql)
        records = await prepared.fetch(*args)
    except Exception as error:
        _prepared.get(raw, {}).pop(plan.sql, None)
        raise await _as_sqlalchemy_error(conn, adapted, error, plan.sql, params) from error
    rowcount = _rowcount(prepared.get_statusmsg()) if plan.returns_status else len(records)
    return Result([Row(record) for record in records], rowcount)


async def _as_sqlalchemy_error(
    conn: AsyncConnection, adapted: Any, error: Exception, sql: str, params: Mapping[str, Any] | None
) -> BaseException:
    """The exception SQLAlchemy would raise for `error`, the connection invalidated if it died."""
    dialect: Any = conn.dialect
    try:
        adapted._handle_exception(error)  # raises asyncpg's error translated to the DBAPI's classes
    except Exception as translated:
        dbapi_error = translated
    else:  # pragma: no cover - _handle_exception always raises
        dbapi_error = error
    if not isinstance(dbapi_error, dialect.loaded_dbapi.Error):
        return dbapi_error
    disconnected = bool(dialect.is_disconnect(dbapi_error, adapted, None))
    if disconnected:  # as SQLAlchemy does: every pooled connection older than this failure is replaced
        sync = conn.sync_connection
        if sync is not None and sync._dbapi_connection is not None:
            conn.sync_engine.pool._invalidate(sync._dbapi_connection, dbapi_error)
        await conn.invalidate(dbapi_error)
    wrapped: BaseException = sa_exc.DBAPIError.instance(
        sql, params, dbapi_error, dialect.loaded_dbapi.Error, connection_invalidated=disconnected, dialect=dialect
    )
    return wrapped
