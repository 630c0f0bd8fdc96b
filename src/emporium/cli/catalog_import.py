"""`emporium catalog import`: stream a JSON-lines or CSV file of products into an org.

The file is read in batches of up to 1,000 items, each validated item by item
(the same rules as `POST /v1/products:bulk`) and upserted by SKU in one
transaction per batch, so memory stays flat whatever the file size.
"""

from __future__ import annotations

import contextlib
import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from emporium.modules.catalog import workflows
from emporium.modules.catalog.resources import POSTGRES_CATALOG, Catalog, product_resource
from emporium.modules.catalog.schemas import MAX_BULK_ITEMS, parse_bulk_items
from emporium.platform.audit.entries import AuditContext
from emporium.platform.auth.principal import ActorType, Principal
from emporium.platform.cache import VersionedCache
from emporium.platform.db.engine import Database

FileFormat = Literal["jsonl", "csv"]


@dataclass
class ImportSummary:
    created: int = 0
    updated: int = 0
    failures: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)

    @property
    def failed(self) -> int:
        return len(self.failures)


def _csv_item(row: dict[str, str]) -> dict[str, Any]:
    item: dict[str, Any] = {k: v for k, v in row.items() if k and v not in (None, "")}
    if "price_amount" in item or "price_currency" in item:
        amount = item.pop("price_amount", None)
        item["price"] = {
            "amount": int(amount) if amount is not None and amount.lstrip("-").isdigit() else amount,
            "currency": item.pop("price_currency", None),
        }
    if "active" in item:
        item["active"] = item["active"].strip().lower() in {"1", "true", "yes"}
    if "attributes" in item:
        with contextlib.suppress(json.JSONDecodeError):  # left as text: validation reports it as not an object
            item["attributes"] = json.loads(item["attributes"])
    return item


def read_items(path: Path, fmt: FileFormat) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line number, item) pairs; an item that cannot be parsed is the reason as a string."""
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        if fmt == "csv":
            reader = csv.DictReader(handle)
            for row in reader:
                yield reader.line_num, _csv_item(row)
            return
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as error:
                yield number, f"not valid JSON: {error.msg}"
                continue
            yield number, item if isinstance(item, dict) else "each line must be a JSON object"


def _batches(
    items: Iterator[tuple[int, dict[str, Any] | str]], size: int
) -> Iterator[list[tuple[int, dict[str, Any] | str]]]:
    batch: list[tuple[int, dict[str, Any] | str]] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


async def import_file(
    db: Database,
    cache: VersionedCache | None,
    principal: Principal,
    path: Path,
    fmt: FileFormat,
    *,
    batch_size: int = MAX_BULK_ITEMS,
    on_batch: Any = None,
    catalog: Catalog = POSTGRES_CATALOG,
) -> ImportSummary:
    summary = ImportSummary()
    audit = AuditContext.of(principal, "catalog_import", None, 200)
    for batch in _batches(read_items(path, fmt), min(batch_size, MAX_BULK_ITEMS)):
        lines = [number for number, _ in batch]
        parsed = [(i, item) for i, (_, item) in enumerate(batch) if isinstance(item, dict)]
        summary.failures += [(number, item) for number, item in batch if isinstance(item, str)]
        valid, failed = parse_bulk_items([item for _, item in parsed])
        for result in failed:
            reason = "; ".join(f"{e.field}: {e.message}" for e in result.errors)
            summary.failures.append((lines[parsed[result.index][0]], reason))
        items = [workflows.BulkItem(parsed[index][0], product_resource.to_row(model)) for index, model in valid]
        for outcome in await workflows.bulk_upsert_products(db, catalog.store, cache, principal, audit, items):
            if outcome.status == "created":
                summary.created += 1
            elif outcome.status == "updated":
                summary.updated += 1
            else:
                reason = "; ".join(f"{e.field}: {e.message}" for e in outcome.errors)
                summary.failures.append((lines[outcome.index], reason))
        if on_batch is not None:
            on_batch(len(batch))
    summary.failures.sort()
    return summary


def import_principal(org_id: str) -> Principal:
    """The CLI acts as the system inside one org; only catalog writes are done with it."""
    from emporium.modules.catalog.permissions import Perm

    return Principal(org_id, ActorType.SYSTEM, "cli:catalog-import", "system", frozenset({Perm.CATALOG_WRITE}))
