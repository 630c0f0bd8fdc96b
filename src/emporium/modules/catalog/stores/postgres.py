"""The catalog in its PostgreSQL schema: the CRUD engine's SQL store and the catalog's queries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from emporium.modules.catalog import services
from emporium.platform.crud.resource import Resource
from emporium.platform.crud.services import CrudStore
from emporium.platform.db.tx import Tx


class PostgresCatalogStore:
    kind = "postgres"

    def __init__(self, products: Resource, categories: Resource) -> None:
        self.products = CrudStore(products)
        self.categories = CrudStore(categories)

    async def existing_categories(self, tx: Tx, org_id: str, ids: Sequence[str]) -> set[str]:
        return await services.existing_categories(tx, org_id, ids)

    async def would_create_cycle(self, tx: Tx, org_id: str, category_id: str, new_parent_id: str) -> bool:
        return await services.would_create_cycle(tx, org_id, category_id, new_parent_id)

    async def upsert_products(self, tx: Tx, org_id: str, rows: Sequence[dict[str, Any]]) -> list[services.UpsertResult]:
        return await services.upsert_products(tx, org_id, rows)

    async def close(self) -> None:
        return None
