"""Orders API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from emporium.modules.orders.domain import CaptureMode, Order, OrderStatus
from emporium.platform.http.schemas import Body, Currency, Timestamp
from emporium.platform.money import Money
from emporium.platform.pagination import DEFAULT_LIMIT, MAX_LIMIT

MAX_LINES = 100


class LineIn(Body):
    sku: str = Field(min_length=1, max_length=64, examples=["TSHIRT-RED-M"])
    quantity: int = Field(ge=1, le=10_000, examples=[2])


class CustomerIn(Body):
    email: EmailStr = Field(max_length=320)
    name: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, pattern=r"^\+[1-9][0-9]{6,14}$", description="E.164, e.g. +4915112345678")


class AddressIn(Body):
    line1: str = Field(min_length=1, max_length=200)
    line2: str | None = Field(None, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    postal_code: str = Field(min_length=1, max_length=20)
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2", examples=["DE"])
    region: str | None = Field(None, max_length=100)


class PaymentIn(Body):
    provider: str = Field("sandbox", pattern=r"^[a-z][a-z0-9_]{1,31}$")
    card_token: str = Field(min_length=1, max_length=255, examples=["tok_success"])


class PlaceOrderIn(Body):
    lines: list[LineIn] = Field(min_length=1, max_length=MAX_LINES)
    currency: Currency = "EUR"
    shipping_amount: int = Field(0, ge=0, le=10**9, description="Shipping in minor units.")
    customer: CustomerIn
    shipping_address: AddressIn
    payment: PaymentIn
    metadata: dict[str, str] = Field(default_factory=dict, max_length=50)


class FulfillIn(Body):
    carrier: str = Field(min_length=1, max_length=100, examples=["DHL"])
    tracking_number: str = Field(min_length=1, max_length=100, examples=["00340434161094042557"])


class CancelIn(Body):
    reason: str = Field("requested_by_merchant", min_length=1, max_length=200)


class RefundIn(Body):
    amount: int = Field(ge=1, le=10**12, description="Minor units, in the order's currency.")
    reason: str | None = Field(None, max_length=200)


class MoneyOut(BaseModel):
    amount: int
    currency: str

    @classmethod
    def of(cls, money: Money) -> MoneyOut:
        return cls(amount=money.amount, currency=money.currency)


class LineOut(BaseModel):
    line_no: int
    product_id: str
    sku: str
    name: str
    unit_price: MoneyOut
    quantity: int
    total: MoneyOut


class OrderOut(BaseModel):
    id: str
    number: int = Field(
        description="The order's number for people (receipts, support): unique across the deployment, with gaps; "
        "each server process takes them in blocks, so numbers are not in creation order across processes"
    )
    status: OrderStatus
    capture_mode: CaptureMode
    customer: dict[str, Any]
    shipping_address: dict[str, Any]
    metadata: dict[str, Any]
    lines: list[LineOut]
    subtotal: MoneyOut
    shipping: MoneyOut
    total: MoneyOut
    refunded: MoneyOut
    carrier: str | None
    tracking_number: str | None
    cancel_reason: str | None
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, o: Order) -> OrderOut:
        return cls(
            id=o.id,
            number=o.number,
            status=o.status,
            capture_mode=o.capture_mode,
            customer={"email": o.customer_email, "name": o.customer_name, "phone": o.customer_phone},
            shipping_address=o.shipping_address,
            metadata=o.metadata,
            lines=[
                LineOut(
                    line_no=line.line_no,
                    product_id=line.product_id,
                    sku=line.sku,
                    name=line.name,
                    unit_price=MoneyOut.of(line.unit_price),
                    quantity=line.quantity,
                    total=MoneyOut.of(line.total),
                )
                for line in o.lines
            ],
            subtotal=MoneyOut.of(o.subtotal),
            shipping=MoneyOut.of(o.shipping),
            total=MoneyOut.of(o.total),
            refunded=MoneyOut.of(o.refunded),
            carrier=o.carrier,
            tracking_number=o.tracking_number,
            cancel_reason=o.cancel_reason,
            version=o.version,
            created_at=o.created_at,
            updated_at=o.updated_at,
        )


class RefundOut(BaseModel):
    refund_id: str
    payment_id: str
    amount: MoneyOut
    order: OrderOut


class OrderListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: OrderStatus | None = None
    customer_email: str | None = Field(None, max_length=320)
    created_from: Timestamp | None = Field(None, description="Inclusive.")
    created_to: Timestamp | None = Field(None, description="Exclusive.")
    cursor: str | None = Field(None, max_length=512)
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
