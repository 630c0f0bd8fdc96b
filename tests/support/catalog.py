"""Products and categories for tests, created through the catalog's own workflows."""

from __future__ import annotations

import secrets

from emporium.modules.catalog import workflows as catalog_workflows
from emporium.modules.catalog.domain import AdjustmentKind
from emporium.modules.catalog.resources import POSTGRES_CATALOG, Catalog
from emporium.modules.catalog.schemas import CategoryIn, MoneyIn, ProductIn
from emporium.platform.db.engine import Database
from tests.support.identity import Tenant, setup_audit


def new_sku(prefix: str = "SKU") -> str:
    return f"{prefix}-{secrets.token_hex(5).upper()}"


async def make_product(
    db: Database,
    tenant: Tenant,
    *,
    sku: str | None = None,
    price: int = 1999,
    on_hand: int = 0,
    name: str = "Thing",
    catalog: Catalog = POSTGRES_CATALOG,
) -> dict[str, object]:
    owner = tenant.owner_principal
    body = ProductIn(sku=sku or new_sku(), name=name, price=MoneyIn(amount=price, currency="EUR"))
    row = await catalog.products.create(db, None, owner, setup_audit(owner), body)
    if on_hand:
        await catalog_workflows.adjust_stock(
            db, owner, setup_audit(owner), str(row["id"]), kind=AdjustmentKind.RESTOCK, quantity=on_hand, reason="test"
        )
    return row


async def make_category(
    db: Database,
    tenant: Tenant,
    name: str = "Shirts",
    parent_id: str | None = None,
    catalog: Catalog = POSTGRES_CATALOG,
) -> str:
    owner = tenant.owner_principal
    row = await catalog.categories.create(
        db, None, owner, setup_audit(owner), CategoryIn(name=name, parent_id=parent_id)
    )
    return str(row["id"])
