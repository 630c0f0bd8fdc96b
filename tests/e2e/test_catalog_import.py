"""`emporium catalog import` streams a file, upserts by SKU and reports failed lines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from emporium.platform.db.engine import Database
from tests.services import ROOT
from tests.support.identity import make_tenant

pytestmark = pytest.mark.e2e


def _run(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "emporium.main", "catalog", "import", *args],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "DATABASE_URL": database_url, "LOG_LEVEL": "warning", "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


async def test_import_jsonl_then_csv_reports_created_updated_and_failed_lines(
    db: Database, database_url: str, pg: asyncpg.Connection, tmp_path: Path
) -> None:
    shop = await make_tenant(db, "Import")
    lines = [
        json.dumps({"sku": f"IMP-{i}", "name": f"P{i}", "price": {"amount": 100 + i, "currency": "EUR"}})
        for i in range(2500)
    ]
    lines.insert(10, "{not json")
    lines.insert(20, json.dumps({"sku": "IMP-X", "name": "no price"}))
    (tmp_path / "products.jsonl").write_text("\n".join(lines) + "\n")
    result = _run(database_url, str(tmp_path / "products.jsonl"), "--org", shop.org_id)
    assert result.returncode == 1, result.stderr  # some lines failed
    assert "created 2500, updated 0, failed 2" in result.stderr
    assert "line 11: not valid JSON" in result.stderr
    assert "line 21: price: Field required" in result.stderr
    assert await pg.fetchval("SELECT count(*) FROM catalog.product WHERE org_id = $1", shop.org_id) == 2500
    assert (
        await pg.fetchval(
            "SELECT count(*) FROM catalog.inventory i JOIN catalog.product p ON p.id = i.product_id "
            "WHERE p.org_id = $1",
            shop.org_id,
        )
        == 2500
    )

    csv_file = tmp_path / "update.csv"
    csv_file.write_text(
        "sku,name,price_amount,price_currency,active\nIMP-1,Renamed,999,EUR,false\nIMP-NEW,New,5,EUR,true\n"
    )
    result = _run(database_url, str(csv_file), "--org", shop.org_id)
    assert result.returncode == 0, result.stderr
    assert "created 1, updated 1, failed 0" in result.stderr
    row = await pg.fetchrow(
        "SELECT name, price_amount, active, version FROM catalog.product WHERE org_id = $1 AND sku = 'IMP-1'",
        shop.org_id,
    )
    assert (row["name"], row["price_amount"], row["active"], row["version"]) == ("Renamed", 999, False, 2)


def test_import_into_an_unknown_org_is_refused(database_url: str, tmp_path: Path) -> None:
    (tmp_path / "p.jsonl").write_text("{}\n")
    result = _run(database_url, str(tmp_path / "p.jsonl"), "--org", "org_missing")
    assert result.returncode == 2
    assert "no org org_missing" in result.stderr
