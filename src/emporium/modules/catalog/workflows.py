"""Catalog workflows beyond the generic CRUD routes: stock, the rules of products and categories, bulk upserts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from emporium.modules.catalog import services as store
from emporium.modules.catalog.domain import AdjustmentKind, Inventory, StockAdjustment, check_adjustment
from emporium.modules.catalog.stores import CatalogStore
from emporium.platform.audit import store as audit_store
from emporium.platform.audit.entries import AuditContext
from emporium.platform.auth.principal import Principal
from emporium.platform.cache import VersionedCache
from emporium.platform.crud.resource import CachePolicy
from emporium.platform.crud.rules import Action, Change, RuleContext, Rules, accepted
from emporium.platform.crud.workflows import invalidate_cached
from emporium.platform.db.engine import Database
from emporium.platform.db.transaction import transaction
from emporium.platform.db.tx import Tx
from emporium.platform.errors import Conflict, FieldError, NotFound
from emporium.platform.pagination import Page
from emporium.platform.telemetry.tracing import traced

PRODUCTS = "products"
PRODUCTS_CACHE = CachePolicy(ttl_seconds=60.0, lookups=("sku",))


@traced
async def get_inventory(db: Database, principal: Principal, product_id: str) -> Inventory:
    async with transaction(db) as tx:
        found = await store.get_inventory(tx, principal.org_id, product_id)
    if found is None:
        raise NotFound(f"no product {product_id}")
    return found


@traced
async def adjust_stock(
    db: Database,
    principal: Principal,
    audit: AuditContext,
    product_id: str,
    *,
    kind: AdjustmentKind,
    quantity: int,
    reason: str,
) -> tuple[StockAdjustment, Inventory]:
    check_adjustment(kind, quantity)
    async with transaction(db) as tx:
        result = await store.adjust_on_hand(
            tx, principal.org_id, product_id, kind, quantity, reason, principal.actor_id
        )
        if result is None:
            raise NotFound(f"no product {product_id}")
        await audit_store.record(tx, audit, product_id)
        await tx.commit()
    return result


@traced
async def list_adjustments(
    db: Database, principal: Principal, product_id: str, *, cursor: str | None, limit: int
) -> Page[StockAdjustment]:
    async with transaction(db) as tx:
        if await store.get_inventory(tx, principal.org_id, product_id) is None:
            raise NotFound(f"no product {product_id}")
        return await store.list_adjustments(tx, principal.org_id, product_id, cursor, limit)


# --- the rules of products and categories (called by the CRUD engine's workflows and by the bulk upsert) ---


def _catalog(ctx: RuleContext) -> CatalogStore:
    """The catalog store the workflows were built with (`CrudWorkflows(..., port=store)`)."""
    port: CatalogStore = ctx.port
    return port


async def _reject_unknown_categories(tx: Tx, ctx: RuleContext, changes: Sequence[Change], column: str) -> None:
    """One query for the whole batch: each change naming a category that does not exist is rejected."""
    named = {c.values[column] for c in changes if c.values.get(column)}
    known = await _catalog(ctx).existing_categories(tx, ctx.org_id, sorted(named))
    for change in changes:
        category_id = change.values.get(column)
        if category_id and category_id not in known:
            change.reject(column, "exists", f"no category {category_id}")


class ProductRules(Rules):
    async def before_write(self, tx: Tx, ctx: RuleContext, changes: Sequence[Change]) -> None:
        await _reject_unknown_categories(tx, ctx, changes, "category_id")
        for change in changes:
            current = change.current
            if (
                change.action is Action.DELETE
                and current is not None
                and await store.reserved_quantity(tx, ctx.org_id, current["id"]) > 0
            ):
                sku = current["sku"]
                raise Conflict(f"product {sku} has units reserved by open checkouts; deactivate it instead")

    async def after_write(self, tx: Tx, ctx: RuleContext, changes: Sequence[Change]) -> None:
        """A new product gets its inventory row (stock 0) in the same transaction."""
        await store.create_inventory(tx, ctx.org_id, [c.row["id"] for c in changes if c.created and c.row])


class CategoryRules(Rules):
    async def before_write(self, tx: Tx, ctx: RuleContext, changes: Sequence[Change]) -> None:
        await _reject_unknown_categories(tx, ctx, changes, "parent_id")
        for change in accepted(changes):
            parent, current = change.values.get("parent_id"), change.current
            if (
                current is not None
                and parent is not None
                and await _catalog(ctx).would_create_cycle(tx, ctx.org_id, current["id"], parent)
            ):
                change.reject("parent_id", "no_cycle", "a category cannot sit under itself or a descendant")


PRODUCT_RULES = ProductRules()
CATEGORY_RULES = CategoryRules()


@dataclass(frozen=True, slots=True)
class BulkItem:
    index: int
    row: dict[str, Any]  # product columns, already validated by the edge


@dataclass(frozen=True, slots=True)
class BulkOutcome:
    index: int
    status: str  # created | updated | failed
    id: str | None = None
    sku: str | None = None
    errors: tuple[FieldError, ...] = field(default_factory=tuple)


@traced
async def bulk_upsert_products(
    db: Database,
    catalog: CatalogStore,
    cache: VersionedCache | None,
    principal: Principal,
    audit: AuditContext,
    items: Sequence[BulkItem],
) -> list[BulkOutcome]:
    """Create or update products by SKU in one transaction, through the products' rules; each item gets a result.

    Items that a rule rejects (an unknown category) or that repeat a SKU of the
    same call are reported and skipped; the rest are written together.
    """
    ctx = RuleContext(principal, catalog)
    changes: list[Change] = []
    seen: set[str] = set()
    for item in items:
        change = Change(Action.UPSERT, item.row)
        if item.row["sku"] in seen:
            change.reject("sku", "unique_in_batch", f"SKU {item.row['sku']} appears earlier in this batch")
        seen.add(item.row["sku"])
        changes.append(change)
    await PRODUCT_RULES.validate(ctx, accepted(changes))
    async with transaction(db) as tx:
        await PRODUCT_RULES.before_write(tx, ctx, accepted(changes))
        writable = accepted(changes)
        results = await catalog.upsert_products(tx, principal.org_id, [c.values for c in writable])
        by_sku = {r.sku: r for r in results}
        for change in writable:
            written = by_sku[change.values["sku"]]
            change.action = Action.CREATE if written.created else Action.UPDATE
            change.row = {"id": written.id, "sku": written.sku, "version": written.version}
        await PRODUCT_RULES.after_write(tx, ctx, writable)
        await audit_store.record(tx, audit, None)
        await tx.commit()
    if cache is not None:
        await invalidate_cached(cache, PRODUCTS, PRODUCTS_CACHE, principal.org_id, [c.row for c in writable if c.row])
    return [_outcome(item.index, change) for item, change in zip(items, changes, strict=True)]


def _outcome(index: int, change: Change) -> BulkOutcome:
    sku = change.values["sku"]
    if change.errors or change.row is None:
        return BulkOutcome(index, "failed", sku=sku, errors=tuple(change.errors))
    return BulkOutcome(index, "created" if change.created else "updated", change.row["id"], sku)
