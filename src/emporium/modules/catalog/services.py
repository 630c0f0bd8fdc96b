"""Catalog storage (service role): inventory, adjustments, categories, bulk upsert, stock moves.

Stock changes are single conditional statements (no read-then-write); a cart
locks its rows in SKU order, so concurrent carts cannot deadlock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, literal_column, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError

from emporium.modules.catalog.domain import (
    AdjustmentKind,
    Inventory,
    PricedLine,
    StockAdjustment,
    StockBelowReserved,
    StockLine,
)
from emporium.modules.catalog.tables import category, inventory, product, stock_adjustment
from emporium.platform.crud.services import AlreadyExists
from emporium.platform.db.deferred import DeferredWrite, RowCheck, RowsMoved
from emporium.platform.db.keyset import keyset_page_query, time_id_key
from emporium.platform.db.tx import Tx
from emporium.platform.ids import new_id
from emporium.platform.money import Money
from emporium.platform.pagination import Page, page_of
from emporium.platform.telemetry.tracing import traced

_LIVE = product.c.deleted_at.is_(None)

# --- categories ---------------------------------------------------------------------------------


@traced
async def category_exists(tx: Tx, org_id: str, category_id: str) -> bool:
    query = select(category.c.id).where(category.c.org_id == org_id, category.c.id == category_id)
    return (await tx.execute(query)).first() is not None


@traced
async def would_create_cycle(tx: Tx, org_id: str, category_id: str, new_parent_id: str) -> bool:
    """True when `category_id` is `new_parent_id` or one of its ancestors."""
    statement = text(
        """
        WITH RECURSIVE ancestors(id, parent_id) AS (
            SELECT id, parent_id FROM catalog.category WHERE id = :start AND org_id = :org
            UNION ALL
            SELECT c.id, c.parent_id FROM catalog.category c JOIN ancestors a ON c.id = a.parent_id
            WHERE c.org_id = :org
        )
        SELECT EXISTS (SELECT 1 FROM ancestors WHERE id = :target)
        """
    )
    return bool(await tx.scalar(statement, {"start": new_parent_id, "org": org_id, "target": category_id}))


# --- inventory ----------------------------------------------------------------------------------


@traced
async def create_inventory(tx: Tx, org_id: str, product_ids: Sequence[str]) -> None:
    if product_ids:
        statement = pg_insert(inventory).on_conflict_do_nothing(index_elements=["product_id"])
        await tx.execute(statement, [{"product_id": pid, "org_id": org_id} for pid in product_ids])


def _inventory(row: Any) -> Inventory:
    return Inventory(row.product_id, row.sku, row.on_hand, row.reserved, row.version)


@traced
async def get_inventory(tx: Tx, org_id: str, product_id: str) -> Inventory | None:
    query = (
        select(inventory, product.c.sku)
        .join(product, product.c.id == inventory.c.product_id)
        .where(inventory.c.org_id == org_id, inventory.c.product_id == product_id, _LIVE)
    )
    row = (await tx.execute(query)).one_or_none()
    return _inventory(row) if row else None


@traced
async def reserved_quantity(tx: Tx, org_id: str, product_id: str) -> int:
    query = select(inventory.c.reserved).where(inventory.c.org_id == org_id, inventory.c.product_id == product_id)
    return int(await tx.scalar(query) or 0)


@traced
async def adjust_on_hand(
    tx: Tx, org_id: str, product_id: str, kind: AdjustmentKind, quantity: int, reason: str, actor_id: str
) -> tuple[StockAdjustment, Inventory] | None:
    """Apply a delta to on_hand and write the ledger row, in one statement; None if the product is absent."""
    statement = text(
        """
        WITH moved AS (
            UPDATE catalog.inventory i
               SET on_hand = i.on_hand + :qty, version = i.version + 1, updated_at = now()
              FROM catalog.product p
             WHERE i.product_id = :pid AND i.org_id = :org AND p.id = i.product_id AND p.deleted_at IS NULL
         RETURNING i.product_id, i.on_hand, i.reserved, i.version, p.sku
        ), ledger AS (
            INSERT INTO catalog.stock_adjustment
                   (id, org_id, product_id, kind, quantity, on_hand_after, reason, actor_id)
            SELECT :id, :org, product_id, :kind, :qty, on_hand, :reason, :actor FROM moved
         RETURNING id, created_at
        )
        SELECT moved.*, ledger.id AS adjustment_id, ledger.created_at FROM moved, ledger
        """
    )
    params = {
        "qty": quantity,
        "pid": product_id,
        "org": org_id,
        "id": new_id("adj"),
        "kind": kind.value,
        "reason": reason,
        "actor": actor_id,
    }
    try:
        row = (await tx.execute(statement, params)).one_or_none()
    except IntegrityError as error:
        raise StockBelowReserved(
            f"on_hand cannot go below 0 or below the reserved quantity (change {quantity:+d})"
        ) from error
    if row is None:
        return None
    record = StockAdjustment(
        row.adjustment_id, product_id, kind, quantity, row.on_hand, reason, actor_id, row.created_at
    )
    return record, Inventory(product_id, row.sku, row.on_hand, row.reserved, row.version)


@traced
async def list_adjustments(
    tx: Tx, org_id: str, product_id: str, cursor: str | None, limit: int
) -> Page[StockAdjustment]:
    query = select(stock_adjustment).where(
        stock_adjustment.c.org_id == org_id, stock_adjustment.c.product_id == product_id
    )
    query = keyset_page_query(
        query, stock_adjustment.c.created_at, stock_adjustment.c.id, cursor, limit, descending=True
    )
    rows = [
        StockAdjustment(
            r.id, r.product_id, AdjustmentKind(r.kind), r.quantity, r.on_hand_after, r.reason, r.actor_id, r.created_at
        )
        for r in await tx.execute(query)
    ]
    return page_of(rows, limit, lambda a: time_id_key(a.created_at, a.id))


# --- stock moves for checkout (used through catalog.api) ----------------------------------------


@dataclass(frozen=True, slots=True)
class OnSale:
    product_id: str
    name: str
    price: Money


@dataclass(frozen=True, slots=True)
class ReservedLine:
    """A wanted line as the reserving statement found it: its product on sale (else None) and its stock."""

    sku: str
    quantity: int
    on_sale: OnSale | None
    available: int  # before this reservation
    reserved: bool


# Built once (the lines come in as two arrays), so it runs as a prepared statement on asyncpg directly.
_RESERVE = text(
    """
    WITH wanted(sku, qty) AS (SELECT * FROM unnest(CAST(:skus AS text[]), CAST(:qtys AS integer[]))),
    locked AS (
        SELECT p.id AS product_id, p.sku, p.name, p.price_amount, p.price_currency,
               i.on_hand - i.reserved AS available, w.qty
          FROM wanted w
          JOIN catalog.product p ON p.org_id = :org AND p.sku = w.sku AND p.deleted_at IS NULL AND p.active
          JOIN catalog.inventory i ON i.product_id = p.id
         ORDER BY p.sku
           FOR UPDATE OF i
    ),
    verdict AS (
        SELECT count(*) = (SELECT count(*) FROM wanted) AND coalesce(bool_and(available >= qty), false) AS ok
          FROM locked
    ),
    moved AS (
        UPDATE catalog.inventory i
           SET reserved = i.reserved + l.qty, version = i.version + 1, updated_at = now()
          FROM locked l, verdict
         WHERE i.product_id = l.product_id AND verdict.ok AND i.on_hand - i.reserved >= l.qty
        RETURNING i.product_id
    )
    SELECT w.sku, w.qty, l.product_id, l.name, l.price_amount, l.price_currency, l.available,
           l.product_id IN (SELECT product_id FROM moved) AS reserved
      FROM wanted w LEFT JOIN locked l ON l.sku = w.sku
    """
)


@traced
async def reserve(tx: Tx, org_id: str, lines: Sequence[StockLine]) -> list[ReservedLine]:
    """Reserve every line or none, and price them, in one statement: rows locked in SKU order.

    The UPDATE checks availability again on the row it writes: under contention the verdict read
    through the locking CTE could be older than the row (a concurrent release or reserve committed
    while we waited), and the CHECK would then refuse the write with an error instead of a "short".
    A partial reservation is reported as such; the caller's transaction must then roll back.
    """
    params = {"org": org_id, "skus": [line.sku for line in lines], "qtys": [line.quantity for line in lines]}
    rows = (await tx.execute(_RESERVE, params)).all()
    reserved = [
        ReservedLine(
            r.sku,
            r.qty,
            OnSale(r.product_id, r.name, Money(r.price_amount, r.price_currency)) if r.product_id else None,
            r.available or 0,
            bool(r.reserved),
        )
        for r in rows
    ]
    remember_on_sale(org_id, reserved)
    return reserved


# Checkout's fast path (decision 043): the lines priced from what this process last saw them on sale as (no
# round trip), then reserved by a deferred write in the transaction's one statement, which holds only if
# every line is still on sale under that SKU, name and price, and in stock (a row check on the lines reserved).
# The memory is filled by the locking reservation, which reads the prices; a stale entry costs one refused
# statement (nothing written) and the locking way, never a wrong price.
_ON_SALE_REMEMBERED = 10_000
_on_sale: dict[tuple[str, str], OnSale] = {}


def remember_on_sale(org_id: str, lines: Sequence[ReservedLine]) -> None:
    for line in lines:
        _on_sale.pop((org_id, line.sku), None)
        if line.on_sale is not None:
            _on_sale[org_id, line.sku] = line.on_sale  # the newest last: the oldest go first when it is full
    while len(_on_sale) > _ON_SALE_REMEMBERED:
        del _on_sale[next(iter(_on_sale))]


def remembered_on_sale(org_id: str, skus: Sequence[str]) -> list[OnSale] | None:
    """Each SKU's product as this process last saw it on sale; None when one was not seen."""
    found = []
    for sku in skus:
        on_sale = _on_sale.get((org_id, sku))
        if on_sale is None:
            return None
        found.append(on_sale)
    return found


class QuoteMoved(RowsMoved):
    """A quoted line is short of stock, or no longer on sale as quoted (SKU, name, price), at COMMIT: nothing
    was written; the caller places the order the locking way, which prices afresh and explains a refusal."""


# Arrays, not one JSON bind (`json_rows`): this write joins the catalog's large tables, and a generic plan
# guesses 10 rows for `unnest` of a bind but 100 for `json_to_recordset`, enough for a hash join over a scan
# of every inventory row (20,000 products: 2 ms instead of 0.3 ms a checkout; decision 044).
RESERVE_AT_COMMIT = DeferredWrite[tuple[str, Sequence[PricedLine]]](
    "catalog.reserve",
    """
    UPDATE catalog.inventory i
       SET reserved = i.reserved + l.qty, version = i.version + 1, updated_at = now()
      FROM (SELECT held.product_id, w.qty
              FROM unnest(CAST(:product_ids AS text[]), CAST(:skus AS text[]), CAST(:names AS text[]),
                          CAST(:prices AS bigint[]), CAST(:currencies AS text[]), CAST(:qtys AS integer[]))
                   AS w(product_id, sku, name, price, currency, qty)
              JOIN catalog.product p ON p.id = w.product_id AND p.org_id = :org AND p.deleted_at IS NULL
                   AND p.active AND p.sku = w.sku AND p.name = w.name AND p.price_amount = w.price
                   AND p.price_currency = w.currency
              JOIN catalog.inventory held ON held.product_id = p.id
             ORDER BY p.sku
               FOR UPDATE OF held) AS l
     WHERE i.product_id = l.product_id AND i.on_hand - i.reserved >= l.qty
    RETURNING 1
    """,
    lambda items: {
        "org": items[0][0],
        "product_ids": [line.product_id for _, lines in items for line in lines],
        "skus": [line.sku for _, lines in items for line in lines],
        "names": [line.name for _, lines in items for line in lines],
        "qtys": [line.quantity for _, lines in items for line in lines],
        "prices": [line.unit_price.amount for _, lines in items for line in lines],
        "currencies": [line.unit_price.currency for _, lines in items for line in lines],
        "lines": sum(len(lines) for _, lines in items),
    },
    check=RowCheck("lines", lambda rows: QuoteMoved(f"{rows} quoted lines could be reserved as quoted")),
)


def reserve_at_commit(tx: Tx, org_id: str, quoted: Sequence[PricedLine]) -> None:
    """Reserve the quoted lines in the transaction's deferred writes (rows locked in SKU order, stock checked
    on the row written): all of them at their quoted price, or the statement fails with `QuoteMoved`."""
    tx.write_before_commit(RESERVE_AT_COMMIT, (org_id, quoted))


_MOVE = text(
    """
    WITH wanted(sku, qty) AS (SELECT * FROM unnest(CAST(:skus AS text[]), CAST(:qtys AS integer[]))),
    locked AS (
        SELECT i.product_id, i.reserved, w.qty
          FROM wanted w
          JOIN catalog.product p ON p.org_id = :org AND p.sku = w.sku AND p.deleted_at IS NULL
          JOIN catalog.inventory i ON i.product_id = p.id
         ORDER BY p.sku
           FOR UPDATE OF i
    ),
    verdict AS (
        SELECT count(*) = (SELECT count(*) FROM wanted) AND coalesce(bool_and(reserved >= qty), false) AS ok
          FROM locked
    )
    UPDATE catalog.inventory i
       SET reserved = i.reserved - l.qty, on_hand = i.on_hand + CAST(:sign AS integer) * l.qty,
           version = i.version + 1, updated_at = now()
      FROM locked l, verdict
     WHERE i.product_id = l.product_id AND verdict.ok AND i.reserved >= l.qty
    RETURNING i.product_id
    """
)


async def _move(tx: Tx, org_id: str, lines: Sequence[StockLine], on_hand_sign: int) -> bool:
    """Release (on_hand unchanged) or commit (on_hand and reserved both drop) reserved units, in SKU order."""
    params = {"org": org_id, "sign": on_hand_sign, "skus": [line.sku for line in lines],
              "qtys": [line.quantity for line in lines]}  # fmt: skip
    moved = (await tx.execute(_MOVE, params)).all()
    return len(moved) == len(lines)


@traced
async def release(tx: Tx, org_id: str, lines: Sequence[StockLine]) -> bool:
    return await _move(tx, org_id, lines, 0)


@traced
async def commit_sale(tx: Tx, org_id: str, lines: Sequence[StockLine], actor_id: str, reason: str) -> bool:
    """Reserved units leave the warehouse: on_hand and reserved both drop, and the ledger records the sale."""
    if not await _move(tx, org_id, lines, -1):
        return False
    values = ", ".join(f"(CAST(:a{i} AS text), CAST(:s{i} AS text), CAST(:q{i} AS integer))" for i in range(len(lines)))
    params: dict[str, Any] = {"org": org_id, "reason": reason, "actor": actor_id}
    for i, line in enumerate(lines):
        params[f"a{i}"], params[f"s{i}"], params[f"q{i}"] = new_id("adj"), line.sku, line.quantity
    statement = text(
        f"""
        WITH sold(adj_id, sku, qty) AS (VALUES {values})
        INSERT INTO catalog.stock_adjustment (id, org_id, product_id, kind, quantity, on_hand_after, reason, actor_id)
        SELECT s.adj_id, :org, p.id, 'sale', -s.qty, i.on_hand, :reason, :actor
          FROM sold s
          JOIN catalog.product p ON p.org_id = :org AND p.sku = s.sku AND p.deleted_at IS NULL
          JOIN catalog.inventory i ON i.product_id = p.id
        """  # noqa: S608 (only bind-parameter placeholders are interpolated)
    )
    await tx.execute(statement, params)
    return True


@traced
async def on_sale_by_sku(tx: Tx, org_id: str, skus: Sequence[str]) -> dict[str, OnSale]:
    """Live, active products among `skus`, with their current name and price."""
    query = select(product.c.id, product.c.sku, product.c.name, product.c.price_amount, product.c.price_currency).where(
        product.c.org_id == org_id, product.c.sku.in_(list(skus)), _LIVE, product.c.active
    )
    return {r.sku: OnSale(r.id, r.name, Money(r.price_amount, r.price_currency)) for r in await tx.execute(query)}


# --- bulk upsert --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UpsertResult:
    id: str
    sku: str
    created: bool
    version: int


@traced
async def upsert_products(tx: Tx, org_id: str, rows: Sequence[dict[str, Any]]) -> list[UpsertResult]:
    """Create or update live products by SKU in one statement; rows must have distinct SKUs.

    The products' rules (`after_write`) create the inventory rows of the created ones."""
    if not rows:
        return []
    values = [{"id": new_id("prd"), "org_id": org_id, **row} for row in rows]
    upsert = pg_insert(product).values(values)
    excluded = upsert.excluded
    statement = upsert.on_conflict_do_update(
        index_elements=["org_id", "sku"],
        index_where=product.c.deleted_at.is_(None),
        set_={
            "name": excluded.name,
            "description": excluded.description,
            "attributes": excluded.attributes,
            "price_amount": excluded.price_amount,
            "price_currency": excluded.price_currency,
            "category_id": excluded.category_id,
            "active": excluded.active,
            "version": product.c.version + 1,
            "updated_at": func.now(),
        },
    ).returning(product.c.id, product.c.sku, product.c.version, (literal_column("xmax") == 0).label("created"))
    return [UpsertResult(r.id, r.sku, bool(r.created), r.version) for r in await tx.execute(statement)]


@traced
async def existing_categories(tx: Tx, org_id: str, ids: Sequence[str]) -> set[str]:
    if not ids:
        return set()
    query = select(category.c.id).where(and_(category.c.org_id == org_id, category.c.id.in_(list(ids))))
    return {row.id for row in await tx.execute(query)}


# --- the sale copy of products kept in MongoDB (decision 026) ---------------------------------------

_SALE_COLUMNS = ("id", "org_id", "sku", "name", "price_amount", "price_currency", "active", "version")
_SALE_TIMES = ("created_at", "updated_at", "deleted_at")


@traced
async def mirror_products(tx: Tx, org_id: str, rows: Sequence[dict[str, Any]]) -> None:
    """Write what checkout reads of products kept in MongoDB (SKU, name, price, active, deleted) to
    `catalog.product`, in the writer's transaction: stock reservation stays one PostgreSQL statement."""
    if not rows:
        return
    values = [{c: row[c] for c in (*_SALE_COLUMNS, *_SALE_TIMES)} | {"org_id": org_id} for row in rows]
    upsert = pg_insert(product).values(values)
    changed = {c: upsert.excluded[c] for c in (*_SALE_COLUMNS[2:], "updated_at", "deleted_at")}
    try:
        await tx.execute(upsert.on_conflict_do_update(index_elements=["id"], set_=changed))
    except IntegrityError as error:  # a live SKU the copy already has (e.g. a product written before the switch)
        raise AlreadyExists(
            "product conflicts with an existing one (uq_product_org_sku_live)", constraint="uq_product_org_sku_live"
        ) from error
