"""Catalog HTTP routes: the CRUD engine's product and category routes, plus inventory and bulk."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from emporium.modules.catalog import workflows
from emporium.modules.catalog.domain import Inventory, StockAdjustment
from emporium.modules.catalog.permissions import Perm
from emporium.modules.catalog.resources import Catalog, category_resource, product_resource
from emporium.modules.catalog.schemas import (
    AdjustmentIn,
    AdjustmentOut,
    AdjustmentResultOut,
    BulkIn,
    BulkItemError,
    BulkItemResult,
    BulkOut,
    InventoryOut,
    parse_bulk_items,
)
from emporium.platform.auth.gate import GatedRoute, auth_gate
from emporium.platform.crud.handlers import crud_router
from emporium.platform.errors import Unavailable
from emporium.platform.http.context import audit_context
from emporium.platform.http.idempotency import HEADER as IDEMPOTENCY_HEADER
from emporium.platform.http.idempotency import idempotent
from emporium.platform.http.paging import Cursor, Limit
from emporium.platform.http.schemas import PageOut
from emporium.platform.http.state import cache_of, database_of
from emporium.platform.pagination import DEFAULT_LIMIT

router = APIRouter(route_class=GatedRoute)


def catalog_of(request: Request) -> Catalog:
    """The running app's catalog (on the store CATALOG_DATABASE_URL chose)."""
    catalog = getattr(getattr(request.app.state, "runtime", None), "catalog", None)
    if not isinstance(catalog, Catalog):
        raise Unavailable("the service is starting or stopping")
    return catalog


def _inventory_out(inventory: Inventory) -> InventoryOut:
    return InventoryOut(
        product_id=inventory.product_id,
        sku=inventory.sku,
        on_hand=inventory.on_hand,
        reserved=inventory.reserved,
        available=inventory.available,
        version=inventory.version,
    )


def _adjustment_out(a: StockAdjustment) -> AdjustmentOut:
    return AdjustmentOut(
        id=a.id,
        product_id=a.product_id,
        kind=a.kind,
        quantity=a.quantity,
        on_hand_after=a.on_hand_after,
        reason=a.reason,
        actor_id=a.actor_id,
        created_at=a.created_at,
    )


@router.post("/v1/products:bulk", operation_id="products_bulk_upsert", tags=["products"])
async def bulk_upsert_products(request: Request, body: BulkIn) -> BulkOut:
    principal = auth_gate(request, Perm.CATALOG_WRITE)
    valid, failed = parse_bulk_items(body.items)
    items = [workflows.BulkItem(index, product_resource.to_row(model)) for index, model in valid]
    outcomes = await workflows.bulk_upsert_products(
        database_of(request),
        catalog_of(request).store,
        cache_of(request),
        principal,
        audit_context(request, principal),
        items,
    )
    results = failed + [
        BulkItemResult(
            index=o.index,
            status=o.status,
            id=o.id,
            sku=o.sku,
            errors=[BulkItemError(field=e.field, rule=e.rule, message=e.message) for e in o.errors],
        )
        for o in outcomes
    ]
    results.sort(key=lambda r: r.index)
    count = {status: sum(1 for r in results if r.status == status) for status in ("created", "updated", "failed")}
    return BulkOut(created=count["created"], updated=count["updated"], failed=count["failed"], results=results)


@router.get("/v1/products/{id}/inventory", operation_id="inventory_get", tags=["inventory"])
async def get_inventory(request: Request, id: str) -> InventoryOut:
    principal = auth_gate(request, Perm.CATALOG_READ)
    return _inventory_out(await workflows.get_inventory(database_of(request), principal, id))


OPTIONAL_IDEMPOTENCY_KEY = {
    "parameters": [
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "description": "Send one (e.g. a UUID) to make a retry safe: the same key and body replay the first "
            "answer instead of adjusting the stock twice.",
            "schema": {"type": "string"},
        }
    ]
}


@router.post(
    "/v1/products/{id}/inventory/adjustments",
    operation_id="inventory_adjust",
    status_code=201,
    response_model=AdjustmentResultOut,
    tags=["inventory"],
    openapi_extra=OPTIONAL_IDEMPOTENCY_KEY,
)
async def adjust_inventory(request: Request, id: str, body: AdjustmentIn) -> Response | AdjustmentResultOut:
    principal = auth_gate(request, Perm.INVENTORY_WRITE)

    async def effect(_claim: object = None) -> tuple[int, AdjustmentResultOut]:
        adjustment, inventory = await workflows.adjust_stock(
            database_of(request),
            principal,
            audit_context(request, principal),
            id,
            kind=body.kind,
            quantity=body.quantity,
            reason=body.reason,
        )
        return 201, AdjustmentResultOut(adjustment=_adjustment_out(adjustment), inventory=_inventory_out(inventory))

    if request.headers.get(IDEMPOTENCY_HEADER) is None:
        return (await effect())[1]
    # The key is claimed in its own transaction first: a retry, even concurrent, cannot adjust twice.
    return await idempotent(request, principal, effect, claim_first=True)


@router.get("/v1/products/{id}/inventory/adjustments", operation_id="inventory_adjustments_list", tags=["inventory"])
async def list_adjustments(
    request: Request, id: str, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT
) -> PageOut[AdjustmentOut]:
    principal = auth_gate(request, Perm.CATALOG_READ)
    page = await workflows.list_adjustments(database_of(request), principal, id, cursor=cursor, limit=limit)
    return PageOut(items=[_adjustment_out(a) for a in page.items], next_cursor=page.next_cursor)


# The bulk route is declared first so `/v1/products:bulk` is not taken for a named query.
router.include_router(crud_router(product_resource, lambda request: catalog_of(request).products))
router.include_router(crud_router(category_resource, lambda request: catalog_of(request).categories))
