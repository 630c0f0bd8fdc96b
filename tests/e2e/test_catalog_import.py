"""`emporium catalog import` streams a file, upserts by SKU and reports failed lines."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from emporium.modules.catalog.resources import Catalog, category_resource, product_resource
from emporium.modules.catalog.stores.mongo import MongoCatalogStore, MongoIndexesMissing
from emporium.platform.db.engine import Database
from tests.services import ROOT
from tests.support.identity import make_tenant
from tests.support.mongo_server import MongoServer

pytestmark = pytest.mark.e2e


def _run(
    database_url: str, *args: str, catalog_url: str = "", command: str = "import"
) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": database_url, "LOG_LEVEL": "warning", "COLUMNS": "200"}
    if catalog_url:
        env["CATALOG_DATABASE_URL"] = catalog_url
    return subprocess.run(
        [sys.executable, "-m", "emporium.main", "catalog", command, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


async def test_import_jsonl_then_csv_reports_created_updated_and_failed_lines(
    db: Database, database_url: str, pg: asyncpg.Connection, tmp_path: Path, catalog: Catalog, mongo_catalog_url: str
) -> None:
    """On each catalog store; `catalog.product` holds every product either way (on MongoDB: the sale copy)."""
    shop = await make_tenant(db, "Import")
    catalog_url = mongo_catalog_url if catalog.store.kind == "mongodb" else ""
    # The test MongoDB upserts ~100 documents a second: one batch there; the batching is the same code.
    count = 300 if catalog_url else 2500
    lines = [
        json.dumps({"sku": f"IMP-{i}", "name": f"P{i}", "price": {"amount": 100 + i, "currency": "EUR"}})
        for i in range(count)
    ]
    lines.insert(10, "{not json")
    lines.insert(20, json.dumps({"sku": "IMP-X", "name": "no price"}))
    (tmp_path / "products.jsonl").write_text("\n".join(lines) + "\n")
    result = _run(database_url, str(tmp_path / "products.jsonl"), "--org", shop.org_id, catalog_url=catalog_url)
    assert result.returncode == 1, result.stderr  # some lines failed
    assert f"created {count}, updated 0, failed 2" in result.stderr
    assert "line 11: not valid JSON" in result.stderr
    assert "line 21: price: Field required" in result.stderr
    assert await pg.fetchval("SELECT count(*) FROM catalog.product WHERE org_id = $1", shop.org_id) == count
    assert (
        await pg.fetchval(
            "SELECT count(*) FROM catalog.inventory i JOIN catalog.product p ON p.id = i.product_id "
            "WHERE p.org_id = $1",
            shop.org_id,
        )
        == count
    )

    csv_file = tmp_path / "update.csv"
    csv_file.write_text(
        "sku,name,price_amount,price_currency,active\nIMP-1,Renamed,999,EUR,false\nIMP-NEW,New,5,EUR,true\n"
    )
    result = _run(database_url, str(csv_file), "--org", shop.org_id, catalog_url=catalog_url)
    assert result.returncode == 0, result.stderr
    assert "created 1, updated 1, failed 0" in result.stderr
    row = await pg.fetchrow(
        "SELECT name, price_amount, active, version FROM catalog.product WHERE org_id = $1 AND sku = 'IMP-1'",
        shop.org_id,
    )
    assert (row["name"], row["price_amount"], row["active"], row["version"]) == ("Renamed", 999, False, 2)
    stored = await catalog.products.get_by(db, None, shop.owner_principal, "sku", "IMP-1")
    assert (stored.name, stored.price.amount, stored.version) == ("Renamed", 999, 2)  # type: ignore[attr-defined]


async def test_mongo_init_creates_the_indexes_the_store_refuses_to_start_without(
    database_url: str, mongo_server: MongoServer
) -> None:
    url = f"{mongo_server.url}/fresh_{secrets.token_hex(4)}"
    with pytest.raises(MongoIndexesMissing, match="ix_product_org_price_amount"):
        await MongoCatalogStore.open(url, product_resource, category_resource)
    result = _run(database_url, command="mongo-init", catalog_url=url)
    assert result.returncode == 0, result.stderr
    assert "index uq_product_org_sku_live" in result.stdout + result.stderr
    store = await MongoCatalogStore.open(url, product_resource, category_resource)
    try:
        assert await store.missing_indexes() == []
        # one index behind every filter and sort, as the PostgreSQL tables have
        names = set((await store.product_docs.index_information()).keys())
        for column in {s.column for s in product_resource.filter_specs.values()} | set(
            product_resource.sortable.values()
        ):
            assert f"ix_product_org_{column}" in names, column
    finally:
        await store.close()


def test_import_into_an_unknown_org_is_refused(database_url: str, tmp_path: Path) -> None:
    (tmp_path / "p.jsonl").write_text("{}\n")
    result = _run(database_url, str(tmp_path / "p.jsonl"), "--org", "org_missing")
    assert result.returncode == 2
    assert "no org org_missing" in result.stderr
