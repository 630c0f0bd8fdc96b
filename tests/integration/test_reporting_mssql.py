"""SQL Server: the reporting store's DDL (its Alembic migrations in offline mode) and every statement the
projection and the reports run, compiled with SQLAlchemy's `mssql` dialect, against a committed snapshot;
and the whole projection on a real SQL Server when TEST_MSSQL_URL is set.

No SQL Server can run on this machine, so the real-server test is the one skip CI accepts: see
`skip_allowed_in_ci` in tests/conftest.py.
Regenerate the snapshot after a deliberate change with `UPDATE_SNAPSHOTS=1`.
"""

from __future__ import annotations

import os
import random
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import delete, select
from sqlalchemy.dialects import mssql

from emporium.modules.reporting import services, tables, workflows
from emporium.modules.reporting.domain import ProductSort
from emporium.modules.reporting.migrate import downgrade, migration_sql, upgrade
from emporium.modules.reporting.upserts import merge_sql
from tests.services import configured
from tests.support.reporting import OrderStory, build_history, deliver, expected_reports, open_store, reports_of

SNAPSHOT = Path(__file__).parent / "snapshots" / "reporting_mssql.sql"
ORG, START, END = "org_snapshot", date(2026, 1, 1), date(2026, 3, 31)


def _compiled(statement: object) -> str:
    dialect = mssql.dialect()  # type: ignore[no-untyped-call]
    return str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))  # type: ignore[attr-defined]


def render() -> str:
    """Everything the reporting store is asked to run, as SQL Server would receive it."""
    parts = ["-- DDL: the reporting store's migrations, base -> head", migration_sql("mssql").strip()]
    statements: list[tuple[str, object]] = []
    for currency in (None, "EUR"):
        for n, query in enumerate(services.sales_queries(ORG, START, END, currency)):
            statements.append((f"sales {n} currency={currency}", query))
        for n, query in enumerate(services.payments_queries(ORG, START, END, currency)):
            statements.append((f"payments {n} currency={currency}", query))
    for sort in ProductSort:
        statements.append((f"products sort={sort}", services.products_query(ORG, START, END, None, sort, 50)))
    applied = tables.applied_event.c
    statements.append(
        ("inbox lookup", select(applied.consumer).where(applied.consumer == "c", applied.event_id == "e"))
    )
    statements.append(("rebuild forget", delete(tables.order_paid).where(tables.order_paid.c.org_id == ORG)))
    parts += [f"-- {name}\n{_compiled(statement)};" for name, statement in statements]
    parts += [f"-- upsert {table.name}\n{merge_sql(table)}" for table in (*tables.FACT_TABLES, tables.applied_event)]
    return "\n\n".join(parts) + "\n"


def test_the_ddl_and_every_query_compile_for_sql_server_as_committed() -> None:
    rendered = render()
    if os.environ.get("UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(rendered)
    assert SNAPSHOT.read_text() == rendered, "the SQL Server rendering changed: review it, then UPDATE_SNAPSHOTS=1"


@pytest.mark.skip_allowed_in_ci("no SQL Server can run on this machine; set TEST_MSSQL_URL to run it")
async def test_the_projection_and_reports_on_a_real_sql_server() -> None:
    url = configured("TEST_MSSQL_URL")
    if url is None:
        pytest.skip("TEST_MSSQL_URL is not set: no SQL Server can run on this machine (see README)")
    await upgrade(url)
    store = open_store(url)
    try:
        history = build_history(
            [
                OrderStory(
                    i % 2,
                    "EUR",
                    (("SKU-A", 2, 700 + i),),
                    100,
                    ["paid", "declined"][i % 2],
                    True,
                    (500,),
                    i % 3 == 0,
                    True,
                    600 * i,
                    90,
                )
                for i in range(10)
            ]
        )
        await deliver(store, history.delivered(random.Random(5)))
        for org in history.orgs:
            assert await reports_of(store, org) == expected_reports(history, org)
        assert (await workflows.status(store)).dialect == "mssql"
    finally:
        await store.dispose()
        await downgrade(url, "base")
