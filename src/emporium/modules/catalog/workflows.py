"""Catalog workflows beyond the generic CRUD routes: stock adjustments and bulk upserts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from emporium.modules.catalog import services as store
from emporium.modules.catalog.domain import AdjustmentKind, Inventory, StockAdjustment, check_adjustment
from emporium.platform.audit import store as audit_store
from emporium.platform.audit.entries import AuditContext
from emporium.platform.auth.principal import Principal
from emporium.platform.cache import VersionedCache
from emporium.platform.crud.resource import CachePolicy
from emporium.platform.crud.workflows import invalidate_cached
from emporium.platform.db.engine import Database
from emporium.platform.db.transaction import transaction
from emporium.platform.errors import FieldError, NotFound
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
    db: Database, cache: VersionedCache | None, principal: Principal, audit: AuditContext, items: Sequence[BulkItem]
) -> list[BulkOutcome]:
    """Create or update products by SKU in one transaction; every item gets its own result.

    Items that fail a rule (unknown category, a SKU repeated within the call)
    are reported and skipped; the rest are written together.
    """
    outcomes: list[BulkOutcome] = []
    accepted: list[BulkItem] = []
    seen: set[str] = set()
    for item in items:
        sku = item.row["sku"]
        if sku in seen:
            outcomes.append(BulkOutcome(item.index, "failed", sku=sku, errors=(_error("sku", "unique_in_batch", sku),)))
        else:
            seen.add(sku)
            accepted.append(item)
    async with transaction(db) as tx:
        categories = {i.row["category_id"] for i in accepted if i.row.get("category_id")}
        known = await store.existing_categories(tx, principal.org_id, sorted(categories))
        writable = []
        for item in accepted:
            category_id = item.row.get("category_id")
            if category_id and category_id not in known:
                outcomes.append(
                    BulkOutcome(
                        item.index,
                        "failed",
                        sku=item.row["sku"],
                        errors=(_error("category_id", "exists", category_id),),
                    )
                )
            else:
                writable.append(item)
        results = await store.upsert_products(tx, principal.org_id, [i.row for i in writable])
        await audit_store.record(tx, audit, None)
        await tx.commit()
    by_sku = {r.sku: r for r in results}
    for item in writable:
        result = by_sku[item.row["sku"]]
        outcomes.append(BulkOutcome(item.index, "created" if result.created else "updated", result.id, result.sku))
    if cache is not None:
        rows = [{"id": r.id, "sku": r.sku, "version": r.version} for r in results]
        await invalidate_cached(cache, PRODUCTS, PRODUCTS_CACHE, principal.org_id, rows)
    return sorted(outcomes, key=lambda o: o.index)


def _error(field_name: str, rule: str, value: str) -> FieldError:
    messages = {
        "unique_in_batch": f"SKU {value} appears earlier in this batch",
        "exists": f"no category {value}",
    }
    return FieldError(field_name, rule, messages[rule])
