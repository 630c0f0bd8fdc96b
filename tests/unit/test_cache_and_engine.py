from __future__ import annotations

import asyncio

import pytest
from pydantic import BaseModel
from sqlalchemy import Column, Integer, MetaData, Table, Text

from emporium.modules.catalog.permissions import Perm
from emporium.platform.cache import Entry, MemoryCache, SingleFlight
from emporium.platform.crud.filters import parse_list_query
from emporium.platform.crud.resource import Filter, Op, Permissions, Resource, StoredAs, crud_indexes
from emporium.platform.errors import ValidationFailed
from tests.support.clock import FakeClock


async def test_an_older_version_cannot_replace_a_newer_entry_or_tombstone() -> None:
    cache = MemoryCache()
    assert await cache.put_if_newer("k", 2, "v2", 60)
    assert not await cache.put_if_newer("k", 1, "v1", 60)
    await cache.invalidate("k", 3, 60)
    assert await cache.get("k") == Entry(3, None)
    assert not await cache.put_if_newer("k", 2, "v2", 60)
    assert await cache.put_if_newer("k", 3, "v3", 60)  # the row read after the commit replaces its tombstone
    assert not await cache.put_if_newer("k", 3, "v3-again", 60)
    assert await cache.get("k") == Entry(3, "v3")


async def test_memory_entries_expire_and_stay_bounded() -> None:
    clock = FakeClock()
    cache = MemoryCache(max_entries=2, clock=clock)
    await cache.put_if_newer("a", 1, "a", 10)
    await cache.put_if_newer("b", 1, "b", 10)
    await cache.put_if_newer("c", 1, "c", 10)
    assert await cache.get("a") is None
    clock.now += 11
    assert await cache.get("b") is None


async def test_single_flight_runs_one_load_for_concurrent_callers() -> None:
    flights = SingleFlight()
    calls = 0
    gate = asyncio.Event()

    async def load() -> int:
        nonlocal calls
        calls += 1
        await gate.wait()
        return 42

    tasks = [asyncio.create_task(flights.run("k", load)) for _ in range(10)]
    await asyncio.sleep(0)
    gate.set()
    results = await asyncio.gather(*tasks)
    assert calls == 1
    assert sorted(led for _, led in results) == [False] * 9 + [True]
    assert {value for value, _ in results} == {42}


async def test_single_flight_shares_failures_and_forget_starts_a_new_load() -> None:
    flights = SingleFlight()
    gate = asyncio.Event()

    async def failing() -> int:
        await gate.wait()
        raise RuntimeError("db down")

    first = asyncio.create_task(flights.run("k", failing))
    second = asyncio.create_task(flights.run("k", failing))
    await asyncio.sleep(0)
    gate.set()
    for task in (first, second):
        with pytest.raises(RuntimeError):
            await task

    started = asyncio.Event()

    async def slow() -> int:
        started.set()
        await asyncio.Event().wait()
        return 1

    hanging = asyncio.create_task(flights.run("k", slow))
    await started.wait()
    flights.forget("k")

    async def fresh() -> int:
        return 2

    assert await flights.run("k", fresh) == (2, True)
    hanging.cancel()


class _Schema(BaseModel):
    name: str
    size: int
    created_at: int
    shape: dict[str, int]


def _resource(table: Table, filters: list[Filter]) -> Resource:
    return Resource(
        name="widgets",
        path="/v1/widgets",
        id_prefix="wid",
        table=table,
        model=_Schema,
        create_schema=_Schema,
        update_schema=_Schema,
        permissions=Permissions.read_write(Perm.CATALOG_READ, Perm.CATALOG_WRITE),
        filters=filters,
        sorts=["created_at"],
    )


def _table(*indexes: object) -> Table:
    return Table(
        "widget", MetaData(), Column("id", Text), Column("org_id", Text), Column("name", Text),
        Column("size", Integer), Column("created_at", Integer), *indexes,
    )  # fmt: skip


def test_a_filter_without_an_index_is_refused_at_declaration() -> None:
    with pytest.raises(ValueError, match="has no \\(org_id, size\\) index"):
        _resource(_table(*crud_indexes("widget", ["created_at"])), [Filter.on("size")])
    with pytest.raises(ValueError, match="text_pattern_ops"):
        _resource(
            _table(*crud_indexes("widget", ["created_at", "name"])),
            [Filter.on("name", Op.PREFIX)],
        )
    ok = _resource(
        _table(*crud_indexes("widget", ["created_at", "size"], prefix_columns=["name"])),
        [Filter.on("size", Op.GTE), Filter.on("name", Op.PREFIX)],
    )
    query = parse_list_query(ok, [("size[gte]", "3"), ("name[prefix]", "a_b"), ("sort", "-created_at")])
    assert [(c.column, c.op, c.value) for c in query.conditions] == [("size", Op.GTE, 3), ("name", Op.PREFIX, "a_b")]
    assert query.descending


def test_repeated_parameters_are_refused() -> None:
    table = _table(*crud_indexes("widget", ["created_at", "size"]))
    resource = _resource(table, [Filter.on("size")])
    with pytest.raises(ValidationFailed) as caught:
        parse_list_query(resource, [("size", "1"), ("size", "2")])
    assert caught.value.errors[0].rule == "duplicate"


def test_filters_and_sorts_take_their_type_and_column_from_the_model() -> None:
    table = _table(*crud_indexes("widget", ["created_at", "size"]))
    resource = _resource(table, [Filter.on("size", Op.GT)])
    assert resource.filter_specs["size"].type is int
    with pytest.raises(ValidationFailed):
        parse_list_query(resource, [("size[gt]", "big")])
    with pytest.raises(ValueError, match="not an int, str or bool field"):
        _resource(table, [Filter.on("shape")])
    with pytest.raises(ValueError, match="not an int, str or bool field"):
        _resource(table, [Filter.on("colour")])


def test_a_field_stored_in_other_columns_maps_both_ways_and_filters_on_its_first_column() -> None:
    class Priced(BaseModel):
        name: str
        price: dict[str, int]
        created_at: int

    table = Table(
        "priced", MetaData(), Column("id", Text), Column("org_id", Text), Column("name", Text),
        Column("cents", Integer), Column("units", Integer), Column("created_at", Integer),
        *crud_indexes("priced", ["created_at", "cents"]),
    )  # fmt: skip
    price = StoredAs(
        ("cents", "units"),
        int,
        dump=lambda v: {"cents": v["cents"], "units": v["units"]},
        load=lambda row: {"cents": row["cents"], "units": row["units"]},
    )
    resource = Resource(
        name="priced",
        path="/v1/priced",
        id_prefix="pri",
        table=table,
        model=Priced,
        create_schema=Priced,
        update_schema=Priced,
        permissions=Permissions.read_write(Perm.CATALOG_READ, Perm.CATALOG_WRITE),
        stored_as={"price": price},
        filters=[Filter.on("price", Op.LT)],
        sorts=["created_at", "price"],
    )
    assert resource.sortable == {"created_at": "created_at", "price": "cents"}
    assert resource.filter_specs["price"].column == "cents"
    body = Priced(name="a", price={"cents": 5, "units": 2}, created_at=1)
    row = resource.to_row(body)
    assert row == {"name": "a", "cents": 5, "units": 2, "created_at": 1}
    assert resource.from_row({**row, "id": "x", "org_id": "o"}) == body
