"""`Tx`: what a service receives from its workflow.

A service runs statements in the caller's transaction and cannot end it: `Tx`
has no `commit` or `rollback`, and mypy rejects a service that tries. Only the
`Transaction` handed out by `platform.db.transaction.transaction()` (which
only workflows may import) can commit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from typing import Any

from sqlalchemy import CursorResult
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable

Params = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None
Flush = Callable[["Tx", list[Any]], Awaitable[None]]


class TransactionClosed(RuntimeError):
    """A statement was sent after the transaction committed or rolled back."""


class Tx:
    __slots__ = ("_conn", "_deferred", "_notify", "_open", "_seen")

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._open = True
        self._notify: set[str] | None = None
        self._seen: set[Hashable] | None = None
        self._deferred: dict[Flush, list[Any]] | None = None

    async def execute(self, statement: Executable, params: Params = None) -> CursorResult[Any]:
        """Run one statement; a list of parameter mappings runs it as executemany."""
        if not self._open:
            raise TransactionClosed("the transaction has ended; open a new one in the workflow")
        return await self._conn.execute(statement, params)

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

    def write_before_commit(self, flush: Flush, item: Any) -> None:
        """Queue `item` for `flush`, which writes every item queued for it in one statement just before
        COMMIT (in queue order); nothing is written on rollback. For rows nothing reads back within the
        transaction, such as outbox events: a checkout's three events cost one round trip, not three."""
        if self._deferred is None:
            self._deferred = {}
        self._deferred.setdefault(flush, []).append(item)

    async def _flush_deferred(self) -> None:
        while self._deferred:
            deferred, self._deferred = self._deferred, None
            for flush, items in deferred.items():
                await flush(self, items)

    def first_time(self, key: Hashable) -> bool:
        """True the first time `key` is passed in this transaction: for work needed once per transaction
        (e.g. a transaction-scoped lock, which stays held until the end anyway)."""
        if self._seen is None:
            self._seen = set()
        elif key in self._seen:
            return False
        self._seen.add(key)
        return True
