"""Migrations: they build exactly the tables the code declares, and every revision can go down and up again."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from emporium.migrations.registry import include_name, target_metadata
from emporium.platform.db.engine import asyncpg_url
from emporium.platform.db.migrate import (
    VERSION_TABLE_SCHEMA,
    alembic_config,
    current_revision,
    downgrade,
    head_revision,
    upgrade,
)
from tests.services import ROOT
from tests.support.databases import DatabaseServer


@pytest.fixture
async def empty_database(database_server: DatabaseServer) -> AsyncIterator[str]:
    name = f"emporium_mig_{secrets.token_hex(4)}"
    url = await database_server.create_database(name)
    yield url
    await database_server.drop_database(name)


async def _schema_diff(url: str) -> list[Any]:
    engine = create_async_engine(asyncpg_url(url))
    try:
        async with engine.connect() as conn:

            def diff(sync_conn: Connection) -> list[Any]:
                context = MigrationContext.configure(
                    sync_conn,
                    opts={
                        "include_schemas": True,
                        "include_name": include_name,
                        "version_table_schema": VERSION_TABLE_SCHEMA,
                        "compare_type": True,
                        "compare_server_default": True,
                    },
                )
                return list(compare_metadata(context, target_metadata))

            return await conn.run_sync(diff)
    finally:
        await engine.dispose()


async def test_migrated_schema_matches_the_table_definitions(database_url: str) -> None:
    assert await current_revision(database_url) == head_revision()
    assert await _schema_diff(database_url) == []


async def test_upgrade_downgrade_upgrade_round_trip(empty_database: str) -> None:
    await upgrade(empty_database)
    assert await current_revision(empty_database) == head_revision()
    await downgrade(empty_database, "base")
    assert await current_revision(empty_database) is None
    await upgrade(empty_database)
    assert await current_revision(empty_database) == head_revision()
    assert await _schema_diff(empty_database) == []


async def test_every_revision_steps_down_and_up_one_at_a_time(empty_database: str) -> None:
    script = ScriptDirectory.from_config(alembic_config())
    revisions = [r.revision for r in script.walk_revisions("base", "heads")][::-1]
    for revision in revisions:
        await upgrade(empty_database, revision)
        await downgrade(empty_database, "-1")
        await upgrade(empty_database, revision)
        assert await current_revision(empty_database) == revision


def test_revision_files_are_date_prefixed_and_have_a_downgrade() -> None:
    versions = ROOT / "src" / "emporium" / "migrations" / "versions"
    files = sorted(p for p in versions.glob("*.py") if p.name != "__init__.py")
    assert files, "no revisions found"
    for path in files:
        assert path.name[:11].count("-") == 2 and path.name[10] == "_", f"{path.name} is not YYYY-MM-DD_<slug>.py"
        source = path.read_text()
        assert "def upgrade() -> None:" in source and "def downgrade() -> None:" in source, path.name


def test_there_is_a_single_head() -> None:
    assert len(ScriptDirectory.from_config(alembic_config()).get_heads()) == 1
