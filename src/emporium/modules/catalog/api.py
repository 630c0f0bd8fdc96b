"""Catalog's public surface for other modules: functions that run in the caller's transaction.

    lines = [StockLine("TSHIRT-M", 2), StockLine("MUG", 1)]
    priced = await catalog_api.reserve_stock(tx, org_id, lines)   # all or nothing, priced; else OutOfStock (409)

Reservation is all-or-nothing per cart by construction (one statement); the
caller's transaction makes it all-or-nothing together with the caller's own
writes (the order row), so a failed checkout step leaves no stock reserved.
"""

from __future__ import annotations

from collections.abc import Sequence

from emporium.modules.catalog import services
from emporium.modules.catalog.domain import OutOfStock, PricedLine, StockLine, merge_lines
from emporium.platform.db.tx import Tx
from emporium.platform.errors import Conflict, FieldError, ValidationFailed
from emporium.platform.telemetry.tracing import traced

__all__ = [
    "OutOfStock",
    "PricedLine",
    "QuoteMoved",
    "StockLine",
    "commit_stock",
    "price_lines",
    "quote_lines",
    "release_stock",
    "reserve_quoted_at_commit",
    "reserve_stock",
]

QuoteMoved = services.QuoteMoved


@traced
async def price_lines(tx: Tx, org_id: str, lines: Sequence[StockLine]) -> list[PricedLine]:
    """Current name and unit price per line (a snapshot for the order); unknown or inactive SKUs are a 422."""
    merged = merge_lines(lines)
    on_sale = await services.on_sale_by_sku(tx, org_id, [line.sku for line in merged])
    missing = [line.sku for line in merged if line.sku not in on_sale]
    if missing:
        raise ValidationFailed(
            f"unknown or unavailable SKUs: {', '.join(missing)}",
            errors=[FieldError("lines", "unknown_sku", f"{sku} is not a product on sale") for sku in missing],
        )
    return [
        PricedLine(
            on_sale[line.sku].product_id, line.sku, on_sale[line.sku].name, on_sale[line.sku].price, line.quantity
        )
        for line in merged
    ]


@traced
async def reserve_stock(tx: Tx, org_id: str, lines: Sequence[StockLine]) -> list[PricedLine]:
    """Reserve every line or none and price them (name and unit price as of now), in one statement.

    Unknown or inactive SKUs are a 422; a short line is `OutOfStock` (409). Either way nothing
    is reserved (the statement reserves all lines or none; the caller's transaction rolls back).
    """
    merged = merge_lines(lines)
    found = await services.reserve(tx, org_id, merged)
    missing = [line.sku for line in found if line.on_sale is None]
    if missing:
        raise ValidationFailed(
            f"unknown or unavailable SKUs: {', '.join(missing)}",
            errors=[FieldError("lines", "unknown_sku", f"{sku} is not a product on sale") for sku in missing],
        )
    if not all(line.reserved for line in found):
        short = {line.sku: max(line.available, 0) for line in found if line.available < line.quantity}
        detail = ", ".join(f"{sku} ({available} available)" for sku, available in short.items()) or "a line"
        raise OutOfStock(f"not enough stock for {detail}", shortages=short)
    return [
        PricedLine(line.on_sale.product_id, line.sku, line.on_sale.name, line.on_sale.price, line.quantity)
        for line in found
        if line.on_sale is not None
    ]


def quote_lines(org_id: str, lines: Sequence[StockLine]) -> list[PricedLine] | None:
    """The lines priced as this process last saw them on sale (no round trip, no lock); None when it has
    not seen one of them (`reserve_stock` prices it). Reserve the quote with `reserve_quoted_at_commit`,
    which holds only if every line is still on sale as quoted."""
    merged = merge_lines(lines)
    on_sale = services.remembered_on_sale(org_id, [line.sku for line in merged])
    if on_sale is None:
        return None
    return [
        PricedLine(p.product_id, line.sku, p.name, p.price, line.quantity)
        for line, p in zip(merged, on_sale, strict=True)
    ]


def reserve_quoted_at_commit(tx: Tx, org_id: str, quoted: Sequence[PricedLine]) -> None:
    """Reserve quoted lines with the transaction's deferred writes, all or none: at COMMIT, a line short of
    stock or no longer on sale as quoted (SKU, name, price) fails the statement with `QuoteMoved` (nothing
    written)."""
    services.reserve_at_commit(tx, org_id, quoted)


@traced
async def release_stock(tx: Tx, org_id: str, lines: Sequence[StockLine]) -> None:
    """Give reserved units back (cancelled or expired checkout)."""
    if not await services.release(tx, org_id, merge_lines(lines)):
        raise Conflict("those units are not reserved; nothing was released")


@traced
async def commit_stock(tx: Tx, org_id: str, lines: Sequence[StockLine], *, actor_id: str, reason: str) -> None:
    """Reserved units are sold: on_hand and reserved both drop, and the sale is written to the ledger."""
    if not await services.commit_sale(tx, org_id, merge_lines(lines), actor_id, reason):
        raise Conflict("those units are not reserved; nothing was committed")
