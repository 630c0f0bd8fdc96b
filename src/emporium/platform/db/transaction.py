"""The one way to open a transaction. Only workflows import this module
(an import-linter contract enforces it).

    async with transaction(db) as tx:
        await order_store.insert(tx, order)
        await tx.commit()

Leaving the block without `await tx.commit()` rolls back, whether by an
exception or by returning early (the unit-of-work rule).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection

from emporium.platform.db import fast
from emporium.platform.db.engine import Database, is_connection_failure
from emporium.platform.db.notify import CommitNotifier
from emporium.platform.db.tx import Tx
from emporium.platform.errors import Unavailable

Isolation = Literal["READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE"]


class DatabaseUnavailable(Unavailable):
    """The database could not be reached, the pool is exhausted, or the connection died mid-transaction.

    A connection lost before COMMIT rolls the transaction back on the server; one lost during COMMIT
    leaves it unknown. Either way the client retries the same request: writes carry an Idempotency-Key,
    so the retry replays the stored answer if the first attempt did commit, or runs it if it did not.
    """

    code = "database_unavailable"
    title = "The database is unavailable"


class Transaction(Tx):
    __slots__ = ("_isolated", "_notifier", "_wake_within")

    def __init__(self, conn: AsyncConnection, notifier: CommitNotifier, *, isolated: bool = False) -> None:
        super().__init__(conn)
        self._notifier = notifier
        self._isolated = isolated
        self._wake_within: float | None = None

    def wakeups_may_wait(self, seconds: float) -> None:
        """The listeners need not be woken for this transaction's writes before `seconds` have passed: for a
        transaction another one of the same flow soon follows (checkout's first), whose wake-up serves both."""
        self._wake_within = seconds

    async def commit(self) -> None:
        channels = self._notify
        inline = None
        if channels and self._deferred and self._wake_within is None and self.on_asyncpg:
            inline = self._notifier.inline(channels)
        # Nothing ran yet and only the deferred writes' statement is left: it is the whole transaction.
        alone = not self._executed and not self._before_commit and not self._isolated and self.on_asyncpg
        await self._flush_deferred(notify=inline.channels if inline else None, alone=alone)
        self._open = False
        await self._end(commit=True)
        if inline is not None:
            self._notifier.carried(inline)
        elif channels:
            self._notifier.request(channels, within=self._wake_within)

    async def _rollback_unless_committed(self) -> None:
        if self._open:
            self._open = False
            await self._end(commit=False)

    async def _end(self, *, commit: bool) -> None:
        if self._conn.in_transaction():  # SQLAlchemy began it (a statement on its path, an isolation level)
            await (self._conn.commit() if commit else self._conn.rollback())
        elif self._driver is not None:  # only statements straight to asyncpg: end it there
            await fast.end(self._conn, self._driver, commit=commit)


@asynccontextmanager
async def transaction(db: Database, *, isolation: Isolation | None = None) -> AsyncIterator[Transaction]:
    try:
        conn = await db.connect()
    except Exception as error:
        if is_connection_failure(error) or isinstance(error, sa_exc.InterfaceError | sa_exc.OperationalError):
            raise DatabaseUnavailable("the database is unavailable, retry shortly", retry_after=1) from error
        raise
    ended_cleanly = False
    try:
        if isolation is not None:
            await conn.execution_options(isolation_level=isolation)
            await conn.begin()
        elif not fast.eligible(conn):
            await conn.begin()
        # Else nothing yet: the first statement begins the transaction (the driver's BEGIN goes out with it,
        # whichever path it takes), and one that is only its deferred writes needs no BEGIN at all.
        tx = Transaction(conn, db.notifier, isolated=isolation is not None)
        try:
            yield tx
        finally:
            await tx._rollback_unless_committed()
        ended_cleanly = True
    except Exception as error:
        if is_connection_failure(error):
            raise DatabaseUnavailable("the database connection was lost, retry shortly", retry_after=1) from error
        raise
    finally:
        await db.release(conn, reusable=ended_cleanly)
