"""Insert-or-keep and insert-or-update statements for each SQL dialect the reporting store runs on.

SQLAlchemy Core has a portable INSERT but no portable upsert. This helper builds one statement per dialect,
run with one row or many (executemany):

- PostgreSQL  `INSERT ... ON CONFLICT (key) DO NOTHING | DO UPDATE SET c = excluded.c`
- MariaDB     `INSERT ... ON DUPLICATE KEY UPDATE c = VALUES(c)` (keeping: `k = k`, which writes nothing)
- SQL Server  `MERGE target WITH (HOLDLOCK) USING (VALUES ...) ... WHEN NOT MATCHED THEN INSERT`
              (HOLDLOCK: without it two concurrent MERGEs can both miss and both insert)

`update=()` keeps an existing row as it is: the projection's facts are written once and never change.

`insert_new` says which rows were new in the same statement where the dialect can (PostgreSQL:
`ON CONFLICT DO NOTHING RETURNING`); elsewhere the caller asks first (decision 038).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table, text
from sqlalchemy.dialects import mssql
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.sql import Executable

SUPPORTED = ("postgresql", "mysql", "mariadb", "mssql")


def upsert(dialect: str, table: Table, *, update: Sequence[str] = ()) -> Executable:
    """A statement inserting one row per parameter set, keyed by `table`'s primary key; on a clash it updates
    `update` from the new row, or keeps the old row when `update` is empty."""
    key = [c.name for c in table.primary_key.columns]
    if dialect == "postgresql":
        pg = pg_insert(table)
        if not update:
            return pg.on_conflict_do_nothing(index_elements=key)
        return pg.on_conflict_do_update(index_elements=key, set_={c: pg.excluded[c] for c in update})
    if dialect in {"mysql", "mariadb"}:
        my = mysql_insert(table)
        if not update:
            return my.on_duplicate_key_update({key[0]: table.c[key[0]]})
        return my.on_duplicate_key_update({c: my.inserted[c] for c in update})
    if dialect == "mssql":
        return text(merge_sql(table, update=update))
    raise ValueError(f"the reporting store runs on {', '.join(SUPPORTED)}, not {dialect!r}")


def insert_new(dialect: str, table: Table, returning: str) -> Executable | None:
    """PostgreSQL: insert the rows not there yet and return `returning` of those (run with many rows, it
    returns the new ones only); None on the dialects that cannot, whose caller looks the keys up first."""
    if dialect != "postgresql":
        return None
    return pg_insert(table).on_conflict_do_nothing().returning(table.c[returning])


def merge_sql(table: Table, *, update: Sequence[str] = ()) -> str:
    """SQL Server's MERGE for one row of named parameters (`:column`)."""
    quote = mssql.dialect().identifier_preparer  # type: ignore[no-untyped-call]
    target = (
        f"{quote.quote_schema(table.schema)}.{quote.quote(table.name)}" if table.schema else quote.quote(table.name)
    )
    names = [c.name for c in table.columns]
    key = [c.name for c in table.primary_key.columns]
    columns = ", ".join(quote.quote(n) for n in names)
    params = ", ".join(f":{n}" for n in names)
    matched = " AND ".join(f"target.{quote.quote(k)} = source.{quote.quote(k)}" for k in key)
    inserted = ", ".join(f"source.{quote.quote(n)}" for n in names)
    # Identifiers come from the table definition, quoted by SQL Server's preparer; values are bound parameters.
    statement = (
        f"MERGE INTO {target} WITH (HOLDLOCK) AS target USING (VALUES ({params})) AS source ({columns}) ON {matched} "
    )
    if update:
        sets = ", ".join(f"target.{quote.quote(c)} = source.{quote.quote(c)}" for c in update)
        statement += f"WHEN MATCHED THEN UPDATE SET {sets} "
    return statement + f"WHEN NOT MATCHED THEN INSERT ({columns}) VALUES ({inserted});"  # noqa: S608
