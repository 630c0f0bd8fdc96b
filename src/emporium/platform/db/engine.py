"""The process's connection pool to PostgreSQL (SQLAlchemy Core on asyncpg)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from asyncpg import exceptions as pg_errors
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from emporium.platform.db.notify import CommitNotifier


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

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.notifier.close()
        await self.engine.dispose()


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
