"""Deferred writes (`Tx.write_before_commit`): every kind queued in a transaction goes out as ONE statement
just before COMMIT; a kind's row check can refuse the commit, and then nothing of any kind is written. A
transaction that is only that statement sends it alone, without BEGIN and COMMIT (one round trip)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event, text

from emporium.platform.db.deferred import DeferredWrite, RowCheck
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


def _picky(table: str) -> DeferredWrite[str]:
    """Writes every value but 'no', and must write two rows."""
    return DeferredWrite[str](
        "picky",
        f"INSERT INTO public.{table} (v) SELECT x FROM unnest(CAST(:values AS text[])) AS x "
        "WHERE x <> 'no' RETURNING 1",
        lambda items: {"values": items},
        check=RowCheck(2, lambda rows: Refused(f"{rows} rows, wanted 2")),
    )


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


@pytest.mark.parametrize("alone", [False, True], ids=["after-a-statement", "alone"])
async def test_a_refused_row_check_rolls_back_every_kind(
    alone: bool, db: Database, pg: asyncpg.Connection, tables: tuple[str, str]
) -> None:
    a, picky = _insert(tables[0]), _picky(tables[1])

    async def write_all() -> None:
        async with transaction(db) as tx:
            if not alone:
                await tx.execute(text(f"INSERT INTO public.{tables[0]} (v) VALUES ('direct')"))
            tx.write_before_commit(a, "a1")
            tx.write_before_commit(picky, "yes")
            tx.write_before_commit(picky, "no")
            await tx.commit()

    for _ in range(2):  # the first run of a combination goes through SQLAlchemy, later ones to asyncpg directly
        with pytest.raises(Refused, match="1 rows, wanted 2"):
            await write_all()
    assert await _rows(pg, tables[0]) == [] and await _rows(pg, tables[1]) == []


async def test_a_transaction_of_deferred_writes_only_is_one_statement_without_begin(
    logged_db: tuple[Database, list[str]], pg: asyncpg.Connection, tables: tuple[str, str]
) -> None:
    database, queries = logged_db
    a, b = _insert(tables[0]), _insert(tables[1])
    for n in range(2):
        async with transaction(database) as tx:
            tx.write_before_commit(a, f"a{n}")
            tx.write_before_commit(b, f"b{n}")
            await tx.commit()
    assert queries == []  # no BEGIN (nor COMMIT): PostgreSQL's implicit transaction of one statement
    assert await _rows(pg, tables[0]) == ["a0", "a1"] and await _rows(pg, tables[1]) == ["b0", "b1"]
    async with transaction(database) as tx:  # a statement first: an ordinary transaction
        await tx.execute(text(f"INSERT INTO public.{tables[0]} (v) VALUES ('direct')"))
        tx.write_before_commit(b, "b2")
        await tx.commit()
    assert queries == ["BEGIN;"], queries  # (asyncpg logs its BEGIN, not its COMMIT)
    assert await _rows(pg, tables[0]) == ["a0", "a1", "direct"] and await _rows(pg, tables[1]) == ["b0", "b1", "b2"]


async def test_nothing_deferred_is_written_on_rollback(
    db: Database, pg: asyncpg.Connection, tables: tuple[str, str]
) -> None:
    async with transaction(db) as tx:
        tx.write_before_commit(_insert(tables[0]), "never")
    assert await _rows(pg, tables[0]) == []


def test_a_deferred_write_must_return_its_rows() -> None:
    with pytest.raises(ValueError, match="RETURNING"):
        DeferredWrite[str]("silent", "INSERT INTO public.t (v) VALUES (:v)", lambda items: {"v": items[0]})


def _counted(table: str) -> DeferredWrite[list[str]]:
    """Writes each queued list and must write as many rows as the list says (`:expected`, a bound count)."""
    return DeferredWrite[list[str]](
        "counted",
        f"INSERT INTO public.{table} (v) SELECT x FROM unnest(CAST(:values AS text[])) AS x "
        "WHERE x <> 'no' RETURNING 1",
        lambda items: {"values": [v for item in items for v in item], "expected": sum(len(i) for i in items)},
        check=RowCheck("expected", lambda rows: Refused(f"{rows} rows written")),
    )


@pytest.mark.parametrize("alone", [False, True], ids=["after-a-statement", "alone"])
async def test_a_row_check_may_take_its_count_from_a_bind(
    alone: bool, db: Database, pg: asyncpg.Connection, tables: tuple[str, str]
) -> None:
    counted = _counted(tables[0])

    async def write(values: list[str]) -> None:
        async with transaction(db) as tx:
            if not alone:
                await tx.execute(text(f"INSERT INTO public.{tables[1]} (v) VALUES ('direct')"))
            tx.write_before_commit(counted, values)
            await tx.commit()

    for _ in range(2):  # through SQLAlchemy, then to asyncpg directly
        await write(["a", "b", "c"])
        with pytest.raises(Refused, match="2 rows written"):
            await write(["x", "no", "y"])
    assert await _rows(pg, tables[0]) == ["a", "a", "b", "b", "c", "c"]


@pytest.mark.parametrize("alone", [False, True], ids=["after-a-statement", "alone"])
async def test_a_write_returns_the_columns_the_database_decided(
    alone: bool, db: Database, pg: asyncpg.Connection, tables: tuple[str, str]
) -> None:
    stamped = DeferredWrite[str](
        "stamped",
        f"INSERT INTO public.{tables[0]} (v) VALUES (:v) RETURNING upper(v) AS shout, now() AS at",
        lambda items: {"v": items[0]},
        returning=("shout", "at"),
    )
    plain = _insert(tables[1])
    for n in range(2):  # through SQLAlchemy, then to asyncpg directly
        async with transaction(db) as tx:
            if not alone:
                await tx.execute(text(f"INSERT INTO public.{tables[1]} (v) VALUES ('direct{n}')"))
            tx.write_before_commit(plain, f"before{n}")
            returned = tx.write_before_commit(stamped, f"hello{n}")
            tx.write_before_commit(plain, f"after{n}")
            with pytest.raises(RuntimeError, match="after COMMIT"):
                _ = returned.values
            with pytest.raises(RuntimeError, match="queue it once"):
                tx.write_before_commit(stamped, "twice")
            await tx.commit()
            committed_at = await pg.fetchval("SELECT now()")
        shout, at = returned.values
        assert shout == f"HELLO{n}" and abs((committed_at - at).total_seconds()) < 60
    assert await _rows(pg, tables[0]) == ["hello0", "hello1"]
    assert set(await _rows(pg, tables[1])) >= {"before0", "after0", "before1", "after1"}
