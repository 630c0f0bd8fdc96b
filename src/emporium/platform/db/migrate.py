"""Run Alembic migrations programmatically (no alembic.ini needed).

Revisions live in the `emporium.migrations` package, so an installed wheel can
migrate without the source tree. Upgrades take a PostgreSQL advisory lock, so
several replicas starting at once migrate one after another, not together.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from emporium.platform.db.engine import asyncpg_url

SCRIPT_LOCATION = "emporium:migrations"
VERSION_TABLE_SCHEMA = "platform"
# Any fixed 64-bit number; it names the "migrations running" lock in pg_locks.
_MIGRATION_LOCK_ID = 0x656D706F7269756D  # "emporium"


def alembic_config(url: str | None = None) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    cfg.set_main_option("file_template", "%%(year)d-%%(month).2d-%%(day).2d_%%(slug)s")
    cfg.set_main_option("truncate_slug_length", "60")
    if url:
        cfg.set_main_option("sqlalchemy.url", asyncpg_url(url))
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def run_alembic(
    engine: AsyncEngine,
    make_config: Callable[[], AlembicConfig],
    action: Callable[[Connection, AlembicConfig], Any],
    *,
    options: Mapping[str, Any] | None = None,
) -> Any:
    """Run an Alembic `action` in one transaction on `engine` (with these execution options), handing it the
    connection through the config; the engine is disposed afterwards. The main schema's migrations and a
    module's own store (reporting's) both run this way."""
    target = engine.execution_options(**options) if options else engine
    try:
        async with target.begin() as conn:

            def run_sync(sync_conn: Connection) -> Any:
                cfg = make_config()
                cfg.attributes["connection"] = sync_conn
                return action(sync_conn, cfg)

            return await conn.run_sync(run_sync)
    finally:
        await engine.dispose()


def _with_connection(url: str, action: Callable[[Connection, AlembicConfig], Any]) -> Any:
    engine = create_async_engine(asyncpg_url(url), pool_size=1, max_overflow=0)
    return run_alembic(engine, lambda: alembic_config(url), action)


def _locked(step: Callable[[AlembicConfig], None]) -> Callable[[Connection, AlembicConfig], None]:
    def run(conn: Connection, cfg: AlembicConfig) -> None:
        conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
        step(cfg)

    return run


async def upgrade(url: str, revision: str = "head") -> None:
    await _with_connection(url, _locked(lambda cfg: command.upgrade(cfg, revision)))


async def downgrade(url: str, revision: str) -> None:
    await _with_connection(url, _locked(lambda cfg: command.downgrade(cfg, revision)))


def _current(conn: Connection, _cfg: AlembicConfig) -> str | None:
    context = MigrationContext.configure(conn, opts={"version_table_schema": VERSION_TABLE_SCHEMA})
    return context.get_current_revision()


async def current_revision(url: str) -> str | None:
    result: str | None = await _with_connection(url, _current)
    return result


def run_upgrade(url: str, revision: str = "head") -> None:
    """Synchronous entry for the CLI and process start-up."""
    asyncio.run(upgrade(url, revision))


async def autogenerate_revision(url: str, message: str) -> None:
    """Write a revision with the difference between the table definitions and the database."""
    await _with_connection(url, lambda _conn, cfg: command.revision(cfg, message=message, autogenerate=True))


def write_empty_revision(message: str) -> None:
    command.revision(alembic_config(), message=message)
