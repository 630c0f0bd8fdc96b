"""Migrate the reporting store (its own Alembic environment, on PostgreSQL, MariaDB/MySQL or SQL Server).

Run by `emporium migrate` / `serve` start-up after the application's migrations, and by
`emporium reporting migrate`. Several replicas starting together take a lock first: an advisory lock on
PostgreSQL, `GET_LOCK` on MariaDB/MySQL, `sp_getapplock` on SQL Server.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine

from emporium.modules.reporting.tables import SCHEMA
from emporium.platform.db.engine import async_url
from emporium.platform.db.migrate import run_alembic

SCRIPT_LOCATION = "emporium.modules.reporting:migrations"
_LOCK_NAME = "emporium_reporting_migrations"
_PG_LOCK_ID = 0x7265706F7274  # "report"


def schema_map(url: str) -> Mapping[str | None, str | None]:
    """Where the `reporting` schema goes: itself, except on MariaDB/MySQL (the URL's database)."""
    return {SCHEMA: None} if async_url(url).startswith(("mysql", "mariadb")) else {}


def alembic_config(url: str | None = None) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    cfg.set_main_option("file_template", "%%(year)d-%%(month).2d-%%(day).2d_%%(slug)s")
    if url:
        cfg.set_main_option("sqlalchemy.url", async_url(url))
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _lock(conn: Connection) -> None:
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _PG_LOCK_ID})
        conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{SCHEMA}"'))
    elif dialect in {"mysql", "mariadb"}:
        conn.execute(text("SELECT GET_LOCK(:name, 60)"), {"name": _LOCK_NAME})
    elif dialect == "mssql":
        conn.execute(
            text("EXEC sp_getapplock @Resource = :name, @LockMode = 'Exclusive', @LockOwner = 'Transaction'"),
            {"name": _LOCK_NAME},
        )
        conn.execute(text(f"IF SCHEMA_ID('{SCHEMA}') IS NULL EXEC('CREATE SCHEMA {SCHEMA}')"))


async def _run(url: str, action: Callable[[Connection, AlembicConfig], Any]) -> Any:
    engine = create_async_engine(async_url(url), pool_size=1, max_overflow=0)
    translate = dict(schema_map(url))
    options = {"schema_translate_map": translate} if translate else None
    return await run_alembic(engine, lambda: alembic_config(url), action, options=options)


async def upgrade(url: str, revision: str = "head") -> None:
    def step(conn: Connection, cfg: AlembicConfig) -> None:
        _lock(conn)
        command.upgrade(cfg, revision)

    await _run(url, step)


async def downgrade(url: str, revision: str = "base") -> None:
    def step(conn: Connection, cfg: AlembicConfig) -> None:
        _lock(conn)
        command.downgrade(cfg, revision)

    await _run(url, step)


async def current_revision(url: str) -> str | None:
    def read(conn: Connection, _cfg: AlembicConfig) -> str | None:
        on_mysql = conn.dialect.name in {"mysql", "mariadb"}
        context = MigrationContext.configure(conn, opts={"version_table_schema": None if on_mysql else SCHEMA})
        return context.get_current_revision()

    result: str | None = await _run(url, read)
    return result


def migration_sql(dialect_name: str) -> str:
    """The migrations from base to head as SQL for `dialect_name`, without a server (Alembic's offline mode)."""
    import contextlib
    import io

    cfg = alembic_config()
    cfg.set_main_option("dialect_name", dialect_name)
    out = io.StringIO()
    cfg.output_buffer = out
    with contextlib.redirect_stdout(out):
        command.upgrade(cfg, "head", sql=True)
    return out.getvalue()


async def autogenerate_revision(url: str, message: str) -> None:
    def write(conn: Connection, cfg: AlembicConfig) -> None:
        _lock(conn)
        command.revision(cfg, message=message, autogenerate=True)

    await _run(url, write)
