"""Catalog rules: stock lines, adjustments, and the errors other modules see."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from emporium.platform.errors import Conflict, FieldError, ValidationFailed
from emporium.platform.money import Money

MAX_LINES_PER_CART = 100
MAX_QUANTITY = 10_000


class OutOfStock(Conflict):
    code = "out_of_stock"
    title = "Not enough stock"


class StockBelowReserved(Conflict):
    code = "stock_below_reserved"
    title = "On-hand stock cannot drop below what is reserved"


class AdjustmentKind(StrEnum):
    RESTOCK = "restock"  # goods received: quantity > 0
    CORRECTION = "correction"  # stock count fixed: any non-zero quantity
    SALE = "sale"  # reserved stock left the warehouse (written by commit_stock)


@dataclass(frozen=True, slots=True)
class StockLine:
    sku: str
    quantity: int


@dataclass(frozen=True, slots=True)
class PricedLine:
    product_id: str
    sku: str
    name: str
    unit_price: Money
    quantity: int

    @property
    def total(self) -> Money:
        return self.unit_price * self.quantity


@dataclass(frozen=True, slots=True)
class Inventory:
    product_id: str
    sku: str
    on_hand: int
    reserved: int
    version: int

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


@dataclass(frozen=True, slots=True)
class StockAdjustment:
    """One row of the stock ledger: a change of on_hand, why, and by whom."""

    id: str
    product_id: str
    kind: AdjustmentKind
    quantity: int
    on_hand_after: int
    reason: str
    actor_id: str
    created_at: datetime


def merge_lines(lines: Iterable[StockLine]) -> list[StockLine]:
    """One line per SKU, sorted by SKU: the lock order that keeps concurrent carts deadlock-free."""
    totals: dict[str, int] = {}
    for index, line in enumerate(lines):
        if not 0 < line.quantity <= MAX_QUANTITY:
            raise ValidationFailed(
                f"line {index}: quantity must be from 1 to {MAX_QUANTITY}",
                errors=[FieldError(f"lines[{index}].quantity", "range", f"from 1 to {MAX_QUANTITY}")],
            )
        totals[line.sku] = totals.get(line.sku, 0) + line.quantity
    if not totals:
        raise ValidationFailed(
            "a cart needs at least one line", errors=[FieldError("lines", "min_length", "at least 1")]
        )
    if len(totals) > MAX_LINES_PER_CART:
        raise ValidationFailed(
            f"a cart holds at most {MAX_LINES_PER_CART} SKUs",
            errors=[FieldError("lines", "max_length", f"at most {MAX_LINES_PER_CART} SKUs")],
        )
    return [StockLine(sku, totals[sku]) for sku in sorted(totals)]


def check_adjustment(kind: AdjustmentKind, quantity: int) -> None:
    if kind is AdjustmentKind.SALE:
        raise ValidationFailed(
            "sales are recorded by checkout, not by hand",
            errors=[FieldError("kind", "enum", "restock or correction")],
        )
    if quantity == 0 or (kind is AdjustmentKind.RESTOCK and quantity < 0):
        rule = "a restock adds a positive quantity" if kind is AdjustmentKind.RESTOCK else "must not be zero"
        raise ValidationFailed(f"quantity: {rule}", errors=[FieldError("quantity", "range", rule)])
