"""The catalog's store port: where products and categories live (decision 026).

    PostgresCatalogStore  the `catalog` schema (the default)
    MongoCatalogStore     a MongoDB database (CATALOG_DATABASE_URL=mongodb://...); stock stays in PostgreSQL

Both give the CRUD engine a `RecordStore` per resource and the queries the
catalog's rules and bulk upsert need. Stock (`catalog.inventory`) and what
checkout reads of a product stay in PostgreSQL either way, so a reservation
stays one statement in the order's transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import Any, Protocol

from emporium.modules.catalog.services import UpsertResult
from emporium.platform.crud.store import RecordStore
from emporium.platform.db.tx import Tx

__all__ = ["CatalogStore", "UpsertResult"]


class CatalogStore(Protocol):
    @property
    def kind(self) -> str:
        """ "postgres" or "mongodb"."""
        ...

    @property
    def products(self) -> RecordStore: ...

    @property
    def categories(self) -> RecordStore: ...

    def existing_categories(self, tx: Tx, org_id: str, ids: Sequence[str]) -> Awaitable[set[str]]: ...

    def would_create_cycle(self, tx: Tx, org_id: str, category_id: str, new_parent_id: str) -> Awaitable[bool]: ...

    def upsert_products(self, tx: Tx, org_id: str, rows: Sequence[dict[str, Any]]) -> Awaitable[list[UpsertResult]]:
        """Create or update live products by SKU (distinct SKUs); no inventory rows (the rules add them)."""
        ...

    def close(self) -> Awaitable[None]: ...
