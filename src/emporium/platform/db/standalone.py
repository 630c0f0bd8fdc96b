"""Connections outside the unit of work, for what is not a business outcome.

Business outcomes run in `transaction()`, which only workflows may open. A few things
talk to PostgreSQL without being one: health probes, the cron's run bookkeeping, the
outbox sampler, and the sandbox payment provider (another system's books, kept in our
database so tests can read them). They use these, and an import-linter contract names
each of them; nothing else reaches for `db.engine` (an architecture test checks).

    async with standalone.autocommit(db) as conn:   # each statement commits on its own
        await conn.execute(statement)
    async with standalone.transaction(db) as conn:  # several statements, committed together
        ...
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncConnection

from emporium.platform.db.engine import Database


@asynccontextmanager
async def autocommit(db: Database) -> AsyncIterator[AsyncConnection]:
    """A pooled connection on which every statement is its own transaction: one round trip each, no BEGIN."""
    async with db.engine.connect() as plain:
        yield await plain.execution_options(isolation_level="AUTOCOMMIT")


@asynccontextmanager
async def transaction(db: Database) -> AsyncIterator[AsyncConnection]:
    """A pooled connection in a transaction, committed when the block ends without an error."""
    async with db.engine.begin() as conn:
        yield conn
