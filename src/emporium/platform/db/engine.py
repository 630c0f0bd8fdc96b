"""The process's connection pool to PostgreSQL (SQLAlchemy Core on asyncpg)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from asyncpg import exceptions as pg_errors
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from emporium.platform.db.notify import CommitNotifier
from emporium.platform.telemetry.metrics import DB_POOL_WAITING


def asyncpg_url(url: str) -> str:
    """Accept `postgres://` and `postgresql://` URLs and point them at asyncpg."""
    parts = urlsplit(url)
    if parts.scheme in {"postgres", "postgresql"}:
        parts = parts._replace(scheme="postgresql+asyncpg")
    return urlunsplit(parts)


# The async driver each SQL server is reached through when a URL names only the server kind.
_ASYNC_DRIVERS = {
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "mysql": "mysql+aiomysql",
    "mariadb": "mysql+aiomysql",
    "mssql": "mssql+aioodbc",
}


def async_url(url: str) -> str:
    """A URL with its async driver: PostgreSQL -> asyncpg, MariaDB/MySQL -> aiomysql, SQL Server -> aioodbc.
    A URL that already names a driver (`mysql+asyncmy://`) is kept."""
    parts = urlsplit(url)
    driver = _ASYNC_DRIVERS.get(parts.scheme)
    return urlunsplit(parts._replace(scheme=driver)) if driver else url


@dataclass(frozen=True, slots=True)
class PoolSettings:
    size: int = 10
    timeout: float = 5.0
    # Connections are replaced after this many seconds (at check-out), so one dropped by a server restart,
    # a failover or an idle-timeout in between is not kept for ever; well under the usual 1 h proxy limits.
    recycle: float = 1800.0


class Database:
    """Owns the engine. Workflows open transactions on it; nothing else does."""

    def __init__(
        self,
        url: str,
        pool: PoolSettings = PoolSettings(),
        *,
        application_name: str = "emporium",
        schema_translate_map: Mapping[str | None, str | None] | None = None,
    ) -> None:
        """`url` is normally PostgreSQL; a module with a store of its own (reporting) may pass a MariaDB/MySQL
        or SQL Server URL, and `schema_translate_map` to place its schema-qualified tables (MySQL has no
        schemas inside a database)."""
        self.url = async_url(url)
        self.dialect_name = self.url.split("+", 1)[0].split(":", 1)[0]
        on_postgres = self.dialect_name == "postgresql"
        self.engine: AsyncEngine = create_async_engine(
            self.url,
            pool_size=pool.size,
            max_overflow=0,
            pool_timeout=pool.timeout,
            # No pre-ping: it costs a round trip (`BEGIN; ROLLBACK`-like) on every check-out, i.e. on every
            # transaction of the hot path. A connection that died while idle is found by the first statement
            # instead; SQLAlchemy then flags the error as a disconnect and invalidates the whole pool (every
            # connection older than the failure is replaced at its next check-out), and `transaction()` answers
            # that one request `503 database_unavailable` with Retry-After, which a client retries with the same
            # Idempotency-Key (decision 020).
            pool_recycle=pool.recycle,
            connect_args={"server_settings": {"application_name": application_name}} if on_postgres else {},
        )
        if schema_translate_map:
            self.engine = self.engine.execution_options(schema_translate_map=dict(schema_translate_map))
        # Sends the NOTIFYs committed transactions asked for (`Tx.notify_after_commit`).
        self.notifier = CommitNotifier(self.url.replace("+asyncpg", "", 1), application_name)
        self._idle: list[AsyncConnection] = []
        self._waiting = 0
        self._keeps_idle = self.engine.dialect.driver == "asyncpg"  # `_clean` reads asyncpg's state

    # A checkout is three transactions, each with its own connection. Checking one out of SQLAlchemy's pool
    # and back in crosses its greenlet bridge twice and runs the pool's events and reset: about 7 % of the
    # checkout's calls (decision 044). So a connection a transaction left clean is kept checked out, idle,
    # here, and the next transaction takes it back with a `list.pop()`. SQLAlchemy's pool still decides
    # everything else: its size bounds these too, a failure that invalidates it makes every idle connection
    # older than the failure be replaced, and so does `pool_recycle`. All of this process's connections to
    # this database are taken here (`transaction()`, `platform.db.standalone`), so nobody waits in the pool
    # while one idles here: while somebody waits, a released connection goes back to the pool instead.

    async def connect(self) -> AsyncConnection:
        """A connection of the pool: an idle one kept here if there is one still fit for use, else the pool's."""
        while self._idle:
            conn = self._idle.pop()
            if self._still_fit(conn):
                return conn
            await conn.close()  # the pool replaces it (SQLAlchemy's own check at its next check-out)
        self._waiting += 1
        DB_POOL_WAITING.inc()  # waiting for a pooled connection (or opening one)
        try:
            return await self.engine.connect()
        finally:
            self._waiting -= 1
            DB_POOL_WAITING.dec()

    async def release(self, conn: AsyncConnection, *, reusable: bool) -> None:
        """Give `conn` back: kept idle here when the caller's work on it ended without an error (`reusable`)
        and it is clean (no transaction open, no isolation level set), else returned to the pool."""
        pool_size = self.engine.sync_engine.pool.size()  # type: ignore[attr-defined]
        if reusable and self._keeps_idle and not self._waiting and len(self._idle) < pool_size and _clean(conn):
            self._idle.append(conn)
        else:
            await conn.close()

    def connections_in_use(self) -> int:
        """Connections checked out for a transaction (not those idle here)."""
        return int(self.engine.sync_engine.pool.checkedout()) - len(self._idle)  # type: ignore[attr-defined]

    def _still_fit(self, conn: AsyncConnection) -> bool:
        """As SQLAlchemy's pool decides at check-out: not older than the pool's last invalidation, nor than
        `pool_recycle`."""
        pool: Any = self.engine.sync_engine.pool
        record = getattr(_driver_connection(conn), "_connection_record", None)
        if record is None:  # detached from the pool: not ours to hand out
            return False
        started = record.starttime
        return bool(started >= pool._invalidate_time and (pool._recycle < 0 or time.time() - started <= pool._recycle))

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        """`connect()` for the block, `release()` when it ends: kept for the next only if it ended without an
        error."""
        conn = await self.connect()
        ended_cleanly = False
        try:
            yield conn
            ended_cleanly = True
        finally:
            await self.release(conn, reusable=ended_cleanly)

    async def ping(self) -> None:
        async with self.connection() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.close()
        await self.notifier.close()
        await self.engine.dispose()


def _driver_connection(conn: AsyncConnection) -> Any:
    """SQLAlchemy's pooled connection (its "fairy") under `conn`, None once closed."""
    sync: Any = conn.sync_connection
    return None if sync is None else sync._dbapi_connection


def _clean(conn: AsyncConnection) -> bool:
    """Checked out, usable, with no isolation level set on it (the pool resets one as it takes the connection
    back), and in no transaction, neither SQLAlchemy's nor the driver's."""
    sync = conn.sync_connection
    if sync is None or sync.closed or sync.invalidated or sync.in_transaction():
        return False
    if "isolation_level" in sync.get_execution_options():
        return False
    fairy = _driver_connection(conn)
    if fairy is None or fairy.dbapi_connection is None:
        return False
    adapted = fairy.dbapi_connection
    if adapted._transaction is not None:
        return False
    driver = adapted._connection
    return not (driver.is_closed() or driver.is_in_transaction())


_UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (sa_exc.TimeoutError, OSError, ConnectionError)
# What asyncpg raises when the server goes away or is restarting (SQLAlchemy does not always flag these
# as a disconnect, e.g. a pooled connection found dead while being checked out).
_DRIVER_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    pg_errors.PostgresConnectionError,
    pg_errors.AdminShutdownError,
    pg_errors.CrashShutdownError,
    pg_errors.CannotConnectNowError,
)


def is_connection_failure(error: BaseException) -> bool:
    """The database could not be reached or the connection died (not: the statement was refused)."""
    if isinstance(error, _UNAVAILABLE_ERRORS):
        return True
    if not isinstance(error, sa_exc.DBAPIError):
        return False
    driver_error = getattr(error.orig, "__cause__", None)
    return error.connection_invalidated or isinstance(driver_error, _DRIVER_CONNECTION_ERRORS)
