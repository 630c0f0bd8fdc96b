"""Alembic environment: runs on the connection `platform.db.migrate` hands in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, text

from emporium.migrations.registry import include_name, target_metadata
from emporium.platform.db.migrate import VERSION_TABLE_SCHEMA


def run_migrations(connection: Connection) -> None:
    connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{VERSION_TABLE_SCHEMA}"'))
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table_schema=VERSION_TABLE_SCHEMA,
        include_schemas=True,
        include_name=include_name,
        compare_type=True,
        compare_server_default=True,
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `emporium migrate` (platform.db.migrate), not bare alembic")
run_migrations(connection)
