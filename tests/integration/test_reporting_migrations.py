"""The reporting store's own Alembic environment on each dialect: base -> head -> base -> head, and the
migrated schema equals the table definitions (no autogenerate difference)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, MetaData
from sqlalchemy.ext.asyncio import create_async_engine

from emporium.modules.reporting.migrate import current_revision, downgrade, head_revision, schema_map, upgrade
from emporium.modules.reporting.tables import SCHEMA, metadata
from emporium.platform.db.engine import async_url
from tests.services import configured
from tests.support.databases import DatabaseServer
from tests.support.reporting import mariadb_database


@pytest.fixture(params=["postgresql", "mariadb"])
async def empty_store(request: pytest.FixtureRequest, database_server: DatabaseServer) -> AsyncIterator[str]:
    if request.param == "postgresql":
        name = f"emporium_rptmig_{secrets.token_hex(4)}"
        url = await database_server.create_database(name)
        yield url
        await database_server.drop_database(name)
        return
    server = configured("TEST_MARIADB_URL")
    if server is None:
        pytest.skip("TEST_MARIADB_URL is not set (CI=true uses the MariaDB server at 127.0.0.1:3306)")
    async with mariadb_database(server, migrated=False) as url:
        yield url


def _unqualified() -> MetaData:
    """The tables without their schema: on MariaDB they live in the URL's database (the store maps them so)."""
    plain = MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.tables.values():
        table.to_metadata(plain, schema=None)
    return plain


async def _differences(url: str) -> list[Any]:
    engine = create_async_engine(async_url(url))
    mapped = engine.execution_options(schema_translate_map=dict(schema_map(url))) if schema_map(url) else engine
    try:
        async with mapped.connect() as conn:

            def diff(sync_conn: Connection) -> list[Any]:
                on_mysql = sync_conn.dialect.name in {"mysql", "mariadb"}
                context = MigrationContext.configure(
                    sync_conn,
                    opts={
                        "include_schemas": not on_mysql,
                        "include_name": lambda name, type_, _p: name in {SCHEMA, None} if type_ == "schema" else True,
                        "version_table_schema": None if on_mysql else SCHEMA,
                        "compare_type": True,
                    },
                )
                return list(compare_metadata(context, _unqualified() if on_mysql else metadata))

            return await conn.run_sync(diff)
    finally:
        await engine.dispose()


async def test_the_reporting_migrations_round_trip_on_each_dialect(empty_store: str) -> None:
    assert await current_revision(empty_store) is None
    await upgrade(empty_store)
    assert await current_revision(empty_store) == head_revision()
    assert await _differences(empty_store) == []
    await downgrade(empty_store, "base")
    assert await current_revision(empty_store) is None
    await upgrade(empty_store)
    assert await current_revision(empty_store) == head_revision()
