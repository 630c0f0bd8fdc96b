"""Deferred writes (`Tx.write_before_commit`): every kind queued in a transaction goes out as ONE statement
just before COMMIT; a kind's row check can refuse the commit, and then nothing of any kind is written."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event, text

from emporium.platform.db.deferred import DeferredWrite
from emporium.platform.db.engine import Database
from emporium.platform.db.transaction import transaction


class Refused(RuntimeError):
    pass


def _insert(table: str) -> DeferredWrite[str]:
    # Both kinds bind `:values`: the combined statement must keep them apart.
    return DeferredWrite[str](
        table,
        f"INSERT INTO public.{table} (v) SELECT unnest(CAST(:values AS text[])) RETURNING 1",
        lambda items: {"values": items},
    )


def _refused_when_short(rows_wanted: int) -> Any:
    def check(_: list[str], rows: int) -> None:
        if rows < rows_wanted:
            raise Refused(f"{rows} rows, wanted {rows_wanted}")

    return check


@pytest.fixture
async def tables(pg: asyncpg.Connection) -> AsyncIterator[tuple[str, str]]:
    names = (f"deferred_a_{secrets.token_hex(3)}", f"deferred_b_{secrets.token_hex(3)}")
    for name in names:
        await pg.execute(f"CREATE TABLE public.{name} (v text NOT NULL)")
    yield names
    for name in names:
        await pg.execute(f"DROP TABLE public.{name}")


async def _rows(pg: asyncpg.Connection, table: str) -> list[str]:
    return [r["v"] for r in await pg.fetch(f"SELECT v FROM public.{table} ORDER BY v")]


async def test_two_kinds_of_deferred_write_go_out_as_one_statement_before_commit(
    db: Database, pg: asyncpg.Connection, tables: tuple[str, str]
) -> None:
    a, b = _insert(tables[0]), _insert(tables[1])
    sent: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        async with transaction(db) as tx:
            tx.write_before_commit(a, "a1")
            tx.write_before_commit(b, "b1")
            tx.write_before_commit(a, "a2")
            assert sent == []  # nothing sent while queueing
            await tx.commit()
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
    assert len(sent) == 1 and sent[0].lstrip().startswith("WITH w0 AS")
    assert await _rows(pg, tables[0]) == ["a1", "a2"]
    assert await _rows(pg, tables[1]) == ["b1"]


async def test_a_refused_row_check_rolls_back_every_kind(
    db: Database, pg: asyncpg.Connection, tables: tuple[str, str]
) -> None:
    a = _insert(tables[0])
    picky = DeferredWrite[str](
        "picky",
        f"INSERT INTO public.{tables[1]} (v) SELECT x FROM unnest(CAST(:values AS text[])) AS x "
        "WHERE x <> 'no' RETURNING 1",
        lambda items: {"values": items},
        written=_refused_when_short(2),
    )

    async def write_all() -> None:
        async with transaction(db) as tx:
            await tx.execute(text(f"INSERT INTO public.{tables[0]} (v) VALUES ('direct')"))
            tx.write_before_commit(a, "a1")
            tx.write_before_commit(picky, "yes")
            tx.write_before_commit(picky, "no")
            await tx.commit()

    with pytest.raises(Refused):
        await write_all()
    assert await _rows(pg, tables[0]) == [] and await _rows(pg, tables[1]) == []


async def test_nothing_deferred_is_written_on_rollback(
    db: Database, pg: asyncpg.Connection, tables: tuple[str, str]
) -> None:
    async with transaction(db) as tx:
        tx.write_before_commit(_insert(tables[0]), "never")
    assert await _rows(pg, tables[0]) == []


def test_a_deferred_write_must_return_its_rows() -> None:
    with pytest.raises(ValueError, match="RETURNING"):
        DeferredWrite[str]("silent", "INSERT INTO public.t (v) VALUES (:v)", lambda items: {"v": items[0]})
