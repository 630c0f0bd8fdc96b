"""Catalog API shapes. Bodies forbid unknown fields; money is integer minor units plus a currency."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, ValidationError, field_validator
from pydantic.json_schema import SkipJsonSchema

from emporium.modules.catalog.domain import MAX_QUANTITY, AdjustmentKind
from emporium.platform.http.schemas import Body, Currency, EnumText
from emporium.platform.money import Money

SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$"
MAX_ATTRIBUTES_BYTES = 16_384
MAX_BULK_ITEMS = 1_000
MANUAL_ADJUSTMENTS = frozenset({AdjustmentKind.RESTOCK, AdjustmentKind.CORRECTION})  # `sale` is written by checkout

Sku = Annotated[str, Field(pattern=SKU_PATTERN, examples=["TSHIRT-RED-M"])]
ProductName = Annotated[str, Field(min_length=1, max_length=200, pattern=r"\S", examples=["Red T-shirt, M"])]
Description = Annotated[str, Field(max_length=5_000)]


def _attributes(value: dict[str, Any]) -> dict[str, Any]:
    if len(json.dumps(value)) > MAX_ATTRIBUTES_BYTES:
        raise ValueError(f"must serialise to at most {MAX_ATTRIBUTES_BYTES} bytes of JSON")
    return value


Attributes = Annotated[dict[str, Any], Field(max_length=100), AfterValidator(_attributes)]


class MoneyIn(Body):
    amount: int = Field(ge=0, le=10**12, description="Integer minor units (cents for EUR).", examples=[1999])
    currency: Currency


class MoneyOut(BaseModel):
    amount: int
    currency: str
    formatted: str = Field(description="A plain rendering, e.g. `19.99 EUR`.")

    @classmethod
    def of(cls, money: Money) -> MoneyOut:
        return cls(amount=money.amount, currency=money.currency, formatted=money.format())


class ProductIn(Body):
    sku: Sku
    name: ProductName
    description: Description = ""
    attributes: Attributes = Field(default_factory=dict)
    price: MoneyIn
    category_id: str | None = Field(None, max_length=40)
    active: bool = True


class ProductUpdate(Body):
    """Partial update: only the fields sent change."""

    sku: Sku | SkipJsonSchema[None] = None
    name: ProductName | SkipJsonSchema[None] = None
    description: Description | SkipJsonSchema[None] = None
    attributes: Attributes | SkipJsonSchema[None] = None
    price: MoneyIn | SkipJsonSchema[None] = None
    category_id: str | None = Field(None, max_length=40)
    active: bool | SkipJsonSchema[None] = None

    @field_validator("sku", "name", "description", "attributes", "price", "active")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may be omitted but not null")
        return value


class ProductOut(BaseModel):
    id: str
    sku: str
    name: str
    description: str
    attributes: dict[str, Any]
    price: MoneyOut
    category_id: str | None
    active: bool
    version: int
    created_at: datetime
    updated_at: datetime


class CategoryIn(Body):
    name: ProductName
    parent_id: str | None = Field(None, max_length=40)


class CategoryUpdate(Body):
    name: ProductName | SkipJsonSchema[None] = None
    parent_id: str | None = Field(None, max_length=40)

    @field_validator("name")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may be omitted but not null")
        return value


class CategoryOut(BaseModel):
    id: str
    name: str
    parent_id: str | None
    version: int
    created_at: datetime
    updated_at: datetime


class InventoryOut(BaseModel):
    product_id: str
    sku: str
    on_hand: int
    reserved: int
    available: int
    version: int


class AdjustmentIn(Body):
    # The kind bounds the quantity: the document says so, so a generated request that fits it is one we take.
    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                {
                    "if": {"properties": {"kind": {"const": "restock"}}},
                    "then": {"properties": {"quantity": {"minimum": 1}}},
                },
                {"not": {"properties": {"quantity": {"const": 0}}, "required": ["quantity"]}},
            ]
        }
    )
    kind: Annotated[AdjustmentKind, Strict(False), EnumText(MANUAL_ADJUSTMENTS)] = Field(
        description="`restock` (positive quantity) or `correction` (any non-zero)."
    )
    quantity: int = Field(ge=-MAX_QUANTITY * 100, le=MAX_QUANTITY * 100, examples=[25])
    reason: str = Field(min_length=1, max_length=500, examples=["PO-1042 received"])


class AdjustmentOut(BaseModel):
    id: str
    product_id: str
    kind: AdjustmentKind
    quantity: int
    on_hand_after: int
    reason: str
    actor_id: str
    created_at: datetime


class AdjustmentResultOut(BaseModel):
    adjustment: AdjustmentOut
    inventory: InventoryOut


class BulkIn(Body):
    items: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=MAX_BULK_ITEMS,
        description="Products to create or update by SKU; each is validated on its own (see ProductIn).",
    )


class BulkItemError(BaseModel):
    field: str
    rule: str
    message: str


class BulkItemResult(BaseModel):
    index: int
    status: str = Field(description="created, updated or failed")
    id: str | None = None
    sku: str | None = None
    errors: list[BulkItemError] = Field(default_factory=list)


class BulkOut(BaseModel):
    created: int
    updated: int
    failed: int
    results: list[BulkItemResult]


def parse_bulk_items(items: list[dict[str, Any]]) -> tuple[list[tuple[int, ProductIn]], list[BulkItemResult]]:
    """Validate each item on its own: the valid ones go on, the others get their errors."""
    valid: list[tuple[int, ProductIn]] = []
    failed: list[BulkItemResult] = []
    for index, raw in enumerate(items):
        try:
            valid.append((index, ProductIn.model_validate(raw)))
        except ValidationError as error:
            sku = raw.get("sku") if isinstance(raw, dict) and isinstance(raw.get("sku"), str) else None
            errors = [
                BulkItemError(field=".".join(str(p) for p in e["loc"]) or "item", rule=e["type"], message=e["msg"])
                for e in error.errors()
            ]
            failed.append(BulkItemResult(index=index, status="failed", sku=sku, errors=errors))
    return valid, failed
