"""Payments API shapes. Money is integer minor units plus an ISO 4217 currency."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from emporium.modules.payments.domain import Payment
from emporium.platform.http.schemas import Currency
from emporium.platform.money import Money


class AmountIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    amount: int = Field(ge=1, le=10**12, description="Integer minor units (cents for EUR).", examples=[1999])
    currency: Currency

    def to_money(self) -> Money:
        return Money(self.amount, self.currency)


class AmountOut(BaseModel):
    amount: int
    currency: str
    formatted: str = Field(description="A plain rendering, e.g. `19.99 EUR`.")

    @classmethod
    def of(cls, money: Money) -> AmountOut:
        return cls(amount=money.amount, currency=money.currency, formatted=money.format())


class CaptureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: AmountIn | None = Field(
        default=None, description="At most the authorized amount; omitted: capture all that is authorized."
    )


class PaymentOut(BaseModel):
    id: str
    order_id: str
    provider: str
    status: str = Field(description="pending, authorized, captured, declined, failed or voided.")
    amount: AmountOut
    authorized: AmountOut
    captured: AmountOut
    refunded: AmountOut = Field(description="Succeeded refunds plus those still pending at the provider.")
    failure_reason: str | None
    authorized_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, payment: Payment) -> PaymentOut:
        return cls(
            id=payment.id,
            order_id=payment.order_id,
            provider=payment.provider,
            status=payment.status.value,
            amount=AmountOut.of(payment.amount),
            authorized=AmountOut.of(payment.authorized),
            captured=AmountOut.of(payment.captured),
            refunded=AmountOut.of(payment.refunded),
            failure_reason=payment.failure_reason,
            authorized_at=payment.authorized_at,
            created_at=payment.created_at,
            updated_at=payment.updated_at,
        )


class WebhookReceiptOut(BaseModel):
    event_id: str
    outcome: str = Field(description="duplicate, ignored, unknown_payment, stale, invalid_amount or moved:<statuses>.")
