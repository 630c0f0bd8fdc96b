"""Alembic environment of the reporting store: runs on the connection `reporting.migrate` hands in.

The store may be another database (MariaDB, SQL Server) than the application's, so it has an environment,
revisions and version table of its own: `reporting.alembic_version` (on MariaDB/MySQL, `alembic_version`
in the URL's database, the `reporting` schema being mapped onto it).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from emporium.modules.reporting.tables import SCHEMA, metadata


def _include_name(name: str | None, type_: str, parent_names: object) -> bool:
    return name in {SCHEMA, None} if type_ == "schema" else True


def run_migrations(connection: Connection) -> None:
    on_mysql = connection.dialect.name in {"mysql", "mariadb"}
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table_schema=None if on_mysql else SCHEMA,
        include_schemas=not on_mysql,
        include_name=_include_name,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def write_sql(dialect_name: str) -> None:
    """Offline mode: the migrations as SQL text for a dialect (the SQL Server snapshot is made this way)."""
    on_mysql = dialect_name in {"mysql", "mariadb"}
    context.configure(
        dialect_name=dialect_name,
        target_metadata=metadata,
        version_table_schema=None if on_mysql else SCHEMA,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    write_sql(context.config.get_main_option("dialect_name") or "postgresql")
else:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run reporting migrations through `emporium reporting migrate`, not bare alembic")
    run_migrations(connection)
