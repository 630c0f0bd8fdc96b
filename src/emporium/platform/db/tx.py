"""`Tx`: what a service receives from its workflow.

A service runs statements in the caller's transaction and cannot end it: `Tx`
has no `commit` or `rollback`, and mypy rejects a service that tries. Only the
`Transaction` handed out by `platform.db.transaction.transaction()` (which
only workflows may import) can commit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import CursorResult
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable

from emporium.platform.db import fast
from emporium.platform.db.deferred import (
    NOTIFY_BIND,
    DeferredWrite,
    Returned,
    combined_params,
    combined_statement,
    json_rows,
    refusal_of,
)

Params = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None
BeforeCommit = Callable[["Tx"], Awaitable[None]]
T = TypeVar("T")


_NOTHING_RETURNED = Returned(())


class TransactionClosed(RuntimeError):
    """A statement was sent after the transaction committed or rolled back."""


class Tx:
    __slots__ = (
        "_before_commit",
        "_conn",
        "_deferred",
        "_driver",
        "_executed",
        "_fast",
        "_notify",
        "_open",
        "_returned",
        "_seen",
    )

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._open = True
        self._executed = False  # a statement has run: the transaction is open on the server
        self._fast: bool | None = None
        self._notify: set[str] | None = None
        self._seen: set[Hashable] | None = None
        self._deferred: dict[DeferredWrite[Any], list[Any]] | None = None
        self._returned: dict[DeferredWrite[Any], Returned] | None = None
        self._before_commit: list[BeforeCommit] | None = None
        self._driver: fast.Driver | None = None

    async def execute(self, statement: Executable, params: Params = None) -> CursorResult[Any]:
        """Run one statement; a list of parameter mappings runs it as executemany."""
        if not self._open:
            raise TransactionClosed("the transaction has ended; open a new one in the workflow")
        self._executed = True
        if not isinstance(params, Sequence) and self.on_asyncpg:  # a repeated statement: to asyncpg directly
            if self._driver is None:
                self._driver = await fast.driver_of(self._conn)
            result = await fast.execute(self._conn, statement, params, self._driver)
            if result is not None:
                return result  # type: ignore[return-value]
        return await self._conn.execute(statement, params)

    @property
    def database(self) -> object:
        """The database this transaction runs on, as a key for values that belong to one database."""
        return self._conn.sync_engine

    @property
    def on_asyncpg(self) -> bool:
        """Whether repeated statements may go to asyncpg directly (`fast.eligible`), asked once per transaction."""
        if self._fast is None:
            self._fast = fast.eligible(self._conn)
        return self._fast

    async def scalar(self, statement: Executable, params: Params = None) -> Any:
        result = await self.execute(statement, params)
        return result.scalar()

    def notify_after_commit(self, channel: str) -> None:
        """NOTIFY `channel` once this transaction has committed (never on rollback; repeats are merged).

        Sent after the COMMIT, not inside the transaction, so the commit does not wait in line for
        PostgreSQL's notify-queue lock (see `platform.db.notify`)."""
        if self._notify is None:
            self._notify = set()
        self._notify.add(channel)

    def write_before_commit(self, write: DeferredWrite[T], item: T) -> Returned:
        """Queue `item` for the transaction's one statement of deferred writes, sent just before COMMIT
        (nothing is written on rollback). For rows nothing reads back within the transaction (outbox
        events, the audit row, a new order's pending payment, an idempotency claim or its answer): a
        checkout's first transaction sends those four kinds in one round trip, not four.

        Returns where the write's `returning` columns will be once the statement succeeded (a kind with
        `returning` writes one row: queue one item of it per transaction)."""
        if self._deferred is None:
            self._deferred = {}
        queued = self._deferred.setdefault(write, [])
        if write.returning and queued:
            raise RuntimeError(f"deferred write {write.name!r} returns columns of one row: queue it once")
        queued.append(item)
        if not write.returning:
            return _NOTHING_RETURNED
        if self._returned is None:
            self._returned = {}
        returned = self._returned[write] = Returned()
        return returned

    def before_commit(self, hook: BeforeCommit) -> None:
        """Run `hook` after the deferred writes, just before COMMIT (tests use it to act in that window)."""
        if self._before_commit is None:
            self._before_commit = []
        self._before_commit.append(hook)

    async def _flush_deferred(self, *, notify: Sequence[str] | None = None, alone: bool = False) -> None:
        """Send the deferred writes' one statement (NOTIFYing `notify` in it); `alone`: as the whole
        transaction, without BEGIN (see `fast.execute`), when nothing else ran or will run in it."""
        if self._deferred:
            queued, self._deferred = self._deferred, None
            writes = list(queued)
            statement = combined_statement(writes, notify=notify is not None)
            params = combined_params(queued)
            if notify is not None:
                params[NOTIFY_BIND] = json_rows(list(notify))
            try:
                row = list((await self._run_deferred(statement, params, alone=alone)).one())
            except sa_exc.DBAPIError as error:
                refused = refusal_of(error, writes)
                if refused is None:
                    raise
                raise refused from None
            returned, self._returned = self._returned or {}, None
            column = 0
            for write, items in queued.items():  # each kind's count, then its `returning` columns
                count, values = row[column], tuple(row[column + 1 : column + 1 + len(write.returning)])
                column += 1 + len(write.returning)
                if write.written is not None:
                    write.written(items, int(count))
                if write in returned:
                    returned[write].fill(values)
        if self._deferred:
            raise RuntimeError("a deferred write was queued while the deferred writes were being sent")
        for hook in self._before_commit or ():
            await hook(self)

    async def _run_deferred(self, statement: Executable, params: dict[str, Any], *, alone: bool) -> Any:
        if alone:
            if self._driver is None:
                self._driver = await fast.driver_of(self._conn)
            result = await fast.execute(self._conn, statement, params, self._driver, alone=True)
            if result is not None:
                return result
        return await self.execute(statement, params)  # an ordinary transaction's statement

    def first_time(self, key: Hashable) -> bool:
        """True the first time `key` is passed in this transaction: for work needed once per transaction
        (e.g. a transaction-scoped lock, which stays held until the end anyway)."""
        if self._seen is None:
            self._seen = set()
        elif key in self._seen:
            return False
        self._seen.add(key)
        return True
