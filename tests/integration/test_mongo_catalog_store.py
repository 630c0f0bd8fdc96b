"""The MongoDB store: writes undone when the PostgreSQL transaction does not commit; an outage is a 503."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import asyncpg
import pytest

from emporium.modules.catalog.resources import Catalog, category_resource, init_mongo_indexes, product_resource
from emporium.modules.catalog.schemas import MoneyIn, ProductIn, ProductUpdate
from emporium.modules.catalog.stores.mongo import MongoCatalogStore
from emporium.modules.catalog.workflows import ProductRules
from emporium.platform.crud.mongo import StoreUnavailable
from emporium.platform.crud.rules import Change, RuleContext
from emporium.platform.crud.workflows import CrudWorkflows
from emporium.platform.db.engine import Database
from emporium.platform.db.tx import Tx
from emporium.platform.errors import Conflict
from tests.support.catalog import make_product, new_sku
from tests.support.identity import make_tenant, setup_audit
from tests.support.mongo_server import MongoServer


class _Refused(Conflict):
    code = "refused_by_test"


class RefuseAfterWrite(ProductRules):
    """The product rules, then a refusal after the store wrote: the transaction rolls back."""

    async def after_write(self, tx: Tx, ctx: RuleContext, changes: Sequence[Change]) -> None:
        await super().after_write(tx, ctx, changes)
        raise _Refused("refused after the write")


async def test_a_write_whose_transaction_rolls_back_leaves_mongodb_as_it_was(
    db: Database, mongo_catalog: Catalog, pg: asyncpg.Connection
) -> None:
    shop = await make_tenant(db, "Undo")
    owner = shop.owner_principal
    store = mongo_catalog.store
    product = await make_product(db, shop, price=100, catalog=mongo_catalog)
    refusing = CrudWorkflows(
        dataclasses.replace(product_resource, rules=RefuseAfterWrite()), store.products, port=store
    )

    sku = new_sku("UNDO")
    body = ProductIn(sku=sku, name="Never", price=MoneyIn(amount=1, currency="EUR"))
    with pytest.raises(_Refused):
        await refusing.create(db, None, owner, setup_audit(owner), body)
    assert await store.products.get_by(None, shop.org_id, "sku", sku) is None
    assert await pg.fetchval("SELECT count(*) FROM catalog.product WHERE sku = $1", sku) == 0

    change = ProductUpdate(price=MoneyIn(amount=999, currency="EUR"))
    with pytest.raises(_Refused):
        await refusing.update(db, None, owner, setup_audit(owner), str(product["id"]), change, None)
    with pytest.raises(_Refused):
        await refusing.delete(db, None, owner, setup_audit(owner), str(product["id"]), None)
    kept = await store.products.get(None, shop.org_id, str(product["id"]))
    assert kept is not None
    assert (kept["price_amount"], kept["version"], kept["deleted_at"]) == (100, 1, None)
    copy = await pg.fetchrow("SELECT price_amount, version, deleted_at FROM catalog.product WHERE id = $1", kept["id"])
    assert (copy["price_amount"], copy["version"], copy["deleted_at"]) == (100, 1, None)

    # and the ordinary workflows still write it (the undo left nothing behind that blocks them)
    row = await mongo_catalog.products.update(db, None, owner, setup_audit(owner), kept["id"], change, None)
    assert (row["price_amount"], row["version"]) == (999, 2)


async def test_mongodb_down_is_a_503_and_a_write_leaves_nothing_in_postgresql(
    db: Database, pg: asyncpg.Connection, tmp_path: Path
) -> None:
    server = MongoServer(tmp_path / "secantus.log")
    server.start()
    url = f"{server.url}/down"
    try:
        await init_mongo_indexes(url)
        store = await MongoCatalogStore.open(url, product_resource, category_resource, timeout_ms=500)
        catalog = Catalog.on(store)
        shop = await make_tenant(db, "Store down")
        owner = shop.owner_principal
        product = await make_product(db, shop, catalog=catalog)
        server.stop()
        with pytest.raises(StoreUnavailable) as refused:
            await catalog.products.get(db, None, owner, str(product["id"]))
        assert (refused.value.status, refused.value.retry_after) == (503, 2)
        sku = new_sku("DOWN")
        with pytest.raises(StoreUnavailable):
            await catalog.products.create(
                db,
                None,
                owner,
                setup_audit(owner),
                ProductIn(sku=sku, name="n", price=MoneyIn(amount=1, currency="EUR")),
            )
        assert await pg.fetchval("SELECT count(*) FROM catalog.product WHERE sku = $1", sku) == 0
        await store.close()
    finally:
        server.stop()
