"""Values of a PostgreSQL sequence taken a block at a time: one round trip per block, not per value.

For a number a writer must know before its statement (an order's number goes into its OrderCreated
event, which the same statement writes): the value is taken from the process's block without a round
trip, and a transaction that finds the block used up reads the next one. Values stay unique; across
processes they are no longer in creation order, and a process that stops loses the rest of its block
(a gap, as a rolled-back insert leaves one).
"""

from __future__ import annotations

import weakref
from collections import deque

from sqlalchemy import text

from emporium.platform.db.tx import Tx


class SequenceBlocks:
    """`size` values of `sequence` (an SQL expression naming it, e.g. `pg_get_serial_sequence(...)`) at a
    time, kept per database (an engine), so two databases in one process never share values."""

    def __init__(self, sequence: str, size: int) -> None:
        self._read = text(
            f"SELECT nextval({sequence}) AS value FROM generate_series(1, CAST(:size AS integer))"  # noqa: S608
        )
        self._size = size
        self._blocks: weakref.WeakKeyDictionary[object, deque[int]] = weakref.WeakKeyDictionary()

    def take(self, tx: Tx) -> int | None:
        """The next value of this process's block; None when it is used up (`next` reads another)."""
        block = self._blocks.get(tx.database)
        return block.popleft() if block else None

    async def next(self, tx: Tx) -> int:
        """The next value, reading a new block in `tx` when this process's is used up."""
        taken = self.take(tx)
        if taken is not None:
            return taken
        rows = (await tx.execute(self._read, {"size": self._size})).all()
        block = self._blocks.setdefault(tx.database, deque())
        block.extend(row.value for row in rows)
        return block.popleft()
