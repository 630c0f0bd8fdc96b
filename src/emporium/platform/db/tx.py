"""`Tx`: what a service receives from its workflow.

A service runs statements in the caller's transaction and cannot end it: `Tx`
has no `commit` or `rollback`, and mypy rejects a service that tries. Only the
`Transaction` handed out by `platform.db.transaction.transaction()` (which
only workflows may import) can commit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import CursorResult
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable

Params = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None


class TransactionClosed(RuntimeError):
    """A statement was sent after the transaction committed or rolled back."""


class Tx:
    __slots__ = ("_conn", "_open")

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._open = True

    async def execute(self, statement: Executable, params: Params = None) -> CursorResult[Any]:
        """Run one statement; a list of parameter mappings runs it as executemany."""
        if not self._open:
            raise TransactionClosed("the transaction has ended; open a new one in the workflow")
        return await self._conn.execute(statement, params)

    async def scalar(self, statement: Executable, params: Params = None) -> Any:
        result = await self.execute(statement, params)
        return result.scalar()
