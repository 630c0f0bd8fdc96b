"""The catalog in MongoDB (decision 026): products and categories as documents.

What checkout reads of a product (SKU, name, price, active, deleted) is also
written to `catalog.product` in the same PostgreSQL transaction as the audit
entry and the inventory row (`services.mirror_products`), so reserving stock
stays one PostgreSQL statement in the order's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import AsyncMongoClient, UpdateOne
from pymongo.errors import BulkWriteError

from emporium.modules.catalog import services
from emporium.platform.crud.mongo import Document, MongoStore, available, ensure_indexes, missing_indexes, now
from emporium.platform.crud.resource import Resource
from emporium.platform.db.tx import Tx
from emporium.platform.ids import new_id

_MAX_ANCESTORS = 10_000  # a category tree deeper than this is refused as if it were a cycle
_DUPLICATE_KEY = 11000


class MongoIndexesMissing(RuntimeError):
    pass


class MongoCatalogStore:
    kind = "mongodb"

    def __init__(self, client: AsyncMongoClient[Document], products: Resource, categories: Resource) -> None:
        database = client.get_default_database(default="emporium")
        self.client = client
        self.product_docs = database["products"]
        self.category_docs = database["categories"]
        self.products = MongoStore(products, self.product_docs, mirror=services.mirror_products)
        self.categories = MongoStore(
            categories,
            self.category_docs,
            references=[(self.product_docs, "category_id"), (self.category_docs, "parent_id")],
        )

    @classmethod
    async def open(
        cls, url: str, products: Resource, categories: Resource, *, check: bool = True, timeout_ms: int = 5000
    ) -> MongoCatalogStore:
        """Connect; with `check`, refuse a database that lacks an index a filter or sort needs.

        `timeout_ms`: how long an operation waits for a reachable server before it is a 503."""
        client: AsyncMongoClient[Document] = AsyncMongoClient(url, tz_aware=True, serverSelectionTimeoutMS=timeout_ms)
        store = cls(client, products, categories)
        if check:
            missing = await store.missing_indexes()
            if missing:
                await store.close()
                raise MongoIndexesMissing(
                    f"the catalog's MongoDB lacks indexes {', '.join(missing)}: run `emporium catalog mongo-init`"
                )
        return store

    async def create_indexes(self) -> list[str]:
        created = await ensure_indexes(self.product_docs, self.products.resource)
        return created + await ensure_indexes(self.category_docs, self.categories.resource)

    async def missing_indexes(self) -> list[str]:
        missing = await missing_indexes(self.product_docs, self.products.resource)
        return missing + await missing_indexes(self.category_docs, self.categories.resource)

    @available
    async def existing_categories(self, tx: Tx, org_id: str, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        found = self.category_docs.find({"org_id": org_id, "_id": {"$in": list(ids)}}, {"_id": 1})
        return {str(document["_id"]) async for document in found}

    @available
    async def would_create_cycle(self, tx: Tx, org_id: str, category_id: str, new_parent_id: str) -> bool:
        """True when `category_id` is `new_parent_id` or one of its ancestors (walks up, one read a level)."""
        current: str | None = new_parent_id
        for _ in range(_MAX_ANCESTORS):
            if current is None:
                return False
            if current == category_id:
                return True
            document = await self.category_docs.find_one({"_id": current, "org_id": org_id}, {"parent_id": 1})
            current = document.get("parent_id") if document else None
        return True

    @available
    async def upsert_products(self, tx: Tx, org_id: str, rows: Sequence[dict[str, Any]]) -> list[services.UpsertResult]:
        """Create or update live products by SKU in one bulk write, then mirror them in `tx`."""
        if not rows:
            return []
        created: set[str] = set()
        pending = list(rows)
        moment = now()
        for _attempt in range(3):  # a concurrent upsert of the same new SKU wins the unique index: update it
            operations = [
                UpdateOne(
                    {"org_id": org_id, "sku": row["sku"], "live": True},
                    {
                        "$set": {**self.products.defaults, **row, "updated_at": moment},
                        "$inc": {"version": 1},
                        "$setOnInsert": {"_id": new_id("prd"), "created_at": moment, "deleted_at": None},
                    },
                    upsert=True,
                )
                for row in pending
            ]
            try:
                result = await self.product_docs.bulk_write(operations, ordered=False)
                created |= {pending[i]["sku"] for i in result.upserted_ids or {}}
                pending = []
            except BulkWriteError as error:
                details = error.details
                created |= {pending[u["index"]]["sku"] for u in details.get("upserted", [])}
                failed = {e["index"] for e in details.get("writeErrors", []) if e.get("code") == _DUPLICATE_KEY}
                if len(failed) < len(details.get("writeErrors", [])):
                    raise
                pending = [pending[i] for i in sorted(failed)]
            if not pending:
                break
        written = await self._read_back(org_id, [row["sku"] for row in rows], moment)
        await services.mirror_products(tx, org_id, written)
        return [services.UpsertResult(r["id"], r["sku"], r["sku"] in created, r["version"]) for r in written]

    async def _read_back(self, org_id: str, skus: list[str], moment: datetime) -> list[dict[str, Any]]:
        """The documents a bulk upsert wrote: those it stamped `updated_at = moment` (one index range, where
        a `sku $in` is slow on some servers), then any a concurrent write re-stamped, one by one."""
        wanted = set(skus)
        stamped = self.product_docs.find({"org_id": org_id, "updated_at": moment, "live": True})
        found = {
            row["sku"]: row async for document in stamped if (row := MongoStore.row(document)) and row["sku"] in wanted
        }
        for sku in wanted - found.keys():
            row = MongoStore.row(await self.product_docs.find_one({"org_id": org_id, "sku": sku, "live": True}))
            if row is not None:
                found[sku] = row
        return list(found.values())

    async def close(self) -> None:
        await self.client.close()
