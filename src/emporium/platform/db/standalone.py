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
    result = await standalone.one_statement(db, statement, params)  # one statement, its own transaction
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable

from emporium.platform.db import fast
from emporium.platform.db.engine import Database


@asynccontextmanager
async def autocommit(db: Database) -> AsyncIterator[AsyncConnection]:
    """A pooled connection on which every statement is its own transaction: one round trip each, no BEGIN."""
    async with db.connection() as plain:  # given back to the pool, which resets its isolation level
        yield await plain.execution_options(isolation_level="AUTOCOMMIT")


@asynccontextmanager
async def transaction(db: Database) -> AsyncIterator[AsyncConnection]:
    """A pooled connection in a transaction, committed when the block ends without an error."""
    async with db.connection() as conn, conn.begin():
        yield conn


async def one_statement(db: Database, statement: Executable, params: Mapping[str, Any] | None = None) -> Any:
    """Run one statement as its own transaction: on asyncpg it is sent alone (`fast.execute(alone=True)`:
    one round trip, no BEGIN, no isolation level to set and reset on the pooled connection); elsewhere on
    an autocommit connection. Its result, fully fetched."""
    async with db.connection() as conn:
        if fast.eligible(conn):
            result = await fast.execute(conn, statement, params, await fast.driver_of(conn), alone=True)
            if result is not None:
                return result
        plain = await conn.execution_options(isolation_level="AUTOCOMMIT")
        return (await plain.execute(statement, params)).freeze()()
