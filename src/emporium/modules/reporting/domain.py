"""Reporting's pure rules: the facts the projection records, UTC day buckets, and how daily figures roll up.

The read model is a set of **facts**, one kind per event kind, each keyed by what makes it unique (the order,
the payment, or the event for things that happen several times: refunds, captures). Recording a fact is
"insert unless already there", so applying an event twice, or events of different aggregates in any order,
leaves the same rows; every figure is computed from the facts when a report is asked for (decision 028).

Amounts are integer minor units. Days are UTC calendar days: identity has no time zone per org, so there is
no other calendar to bucket by (decision 028).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import TypeVar


class Granularity(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class ProductSort(StrEnum):
    REVENUE = "revenue"
    UNITS = "units"


def utc_day(at: datetime) -> date:
    """The UTC calendar day of an instant (a naive time is taken as UTC)."""
    return (at if at.tzinfo is None else at.astimezone(UTC)).date()


def naive_utc(at: datetime) -> datetime:
    """Stored times are naive UTC: MariaDB's DATETIME and SQL Server's DATETIME2 keep no offset."""
    return at if at.tzinfo is None else at.astimezone(UTC).replace(tzinfo=None)


def bucket_start(day: date, granularity: Granularity) -> date:
    """The first day of the bucket holding `day`: itself, its ISO week's Monday, or the 1st of its month."""
    if granularity is Granularity.WEEK:
        return day - timedelta(days=day.weekday())
    if granularity is Granularity.MONTH:
        return day.replace(day=1)
    return day


def average(total: int, count: int) -> int:
    """Integer mean in minor units, halves rounded up (no floats for money)."""
    return (2 * total + count) // (2 * count) if count else 0


# --- facts: one per event kind ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SoldLine:
    sku: str
    name: str
    quantity: int
    revenue_minor: int


@dataclass(frozen=True, slots=True)
class OrderPlaced:
    org_id: str
    order_id: str
    currency: str
    total_minor: int
    day: date


@dataclass(frozen=True, slots=True)
class OrderPaid:
    """A sale: counted on the day the order was paid (authorized), with its lines for the product report."""

    org_id: str
    order_id: str
    currency: str
    total_minor: int
    day: date
    lines: tuple[SoldLine, ...]

    @property
    def units(self) -> int:
        return sum(line.quantity for line in self.lines)


@dataclass(frozen=True, slots=True)
class OrderRefund:
    org_id: str
    event_id: str
    order_id: str
    currency: str
    amount_minor: int
    day: date


@dataclass(frozen=True, slots=True)
class OrderCancelled:
    """`was_paid`: the sale had been counted, so cancelling it takes back what was not refunded before."""

    org_id: str
    order_id: str
    currency: str
    total_minor: int
    was_paid: bool
    day: date


@dataclass(frozen=True, slots=True)
class OrderShipped:
    org_id: str
    order_id: str
    day: date


@dataclass(frozen=True, slots=True)
class PaymentAuthorized:
    org_id: str
    payment_id: str
    order_id: str
    currency: str
    amount_minor: int
    day: date


@dataclass(frozen=True, slots=True)
class PaymentCaptured:
    org_id: str
    event_id: str
    payment_id: str
    currency: str
    amount_minor: int
    day: date


@dataclass(frozen=True, slots=True)
class PaymentFailed:
    """`status` is `declined` or `failed`; the amount and currency are the order's (PaymentFailed has none)."""

    org_id: str
    payment_id: str
    order_id: str
    status: str
    day: date


@dataclass(frozen=True, slots=True)
class PaymentVoided:
    org_id: str
    payment_id: str
    order_id: str
    day: date


@dataclass(frozen=True, slots=True)
class PaymentRefund:
    org_id: str
    event_id: str
    payment_id: str
    currency: str
    amount_minor: int
    day: date


Fact = (
    OrderPlaced
    | OrderPaid
    | OrderRefund
    | OrderCancelled
    | OrderShipped
    | PaymentAuthorized
    | PaymentCaptured
    | PaymentFailed
    | PaymentVoided
    | PaymentRefund
)


# --- report rows --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class SalesRow:
    """Sales in one bucket and currency. Each figure falls on the day of its own event: orders, units and
    gross on the day of payment, refunds on the refund's day, cancellations on the cancellation's day.
    `cancelled_minor`: paid orders cancelled, their total less what had been refunded before;
    net = gross - refunds - cancelled. Emporium has no discounts, so there is no discount column."""

    bucket: date
    currency: str
    orders: int = 0
    units: int = 0
    gross_minor: int = 0
    refunds: int = 0
    refunded_minor: int = 0
    cancellations: int = 0
    cancelled_minor: int = 0
    shipped: int = 0

    @property
    def net_minor(self) -> int:
        return self.gross_minor - self.refunded_minor - self.cancelled_minor

    @property
    def average_order_minor(self) -> int:
        return average(self.gross_minor, self.orders)


@dataclass(slots=True)
class PaymentsRow:
    """Payment outcomes in one bucket and currency, each on the day of its event. Declined and failed
    authorizations count the order's total (what was asked for); voided ones the authorized amount."""

    bucket: date
    currency: str
    authorized: int = 0
    authorized_minor: int = 0
    captured: int = 0
    captured_minor: int = 0
    declined: int = 0
    declined_minor: int = 0
    failed: int = 0
    failed_minor: int = 0
    voided: int = 0
    voided_minor: int = 0
    refunds: int = 0
    refunded_minor: int = 0


@dataclass(frozen=True, slots=True)
class ProductRow:
    currency: str
    sku: str
    name: str
    units: int
    revenue_minor: int
    orders: int


@dataclass(frozen=True, slots=True)
class DailyFigure:
    """One figure of one day and currency, as the store sums it: e.g. ("gross_minor", 12_000)."""

    day: date
    currency: str
    values: dict[str, int] = field(default_factory=dict)


Row = TypeVar("Row", SalesRow, PaymentsRow)


def roll_up(kind: type[Row], figures: Iterable[DailyFigure], granularity: Granularity) -> list[Row]:
    """Sum daily figures into buckets, ordered by (bucket, currency)."""
    names = {f.name for f in fields(kind)} - {"bucket", "currency"}
    rows: dict[tuple[date, str], Row] = {}
    for figure in figures:
        key = (bucket_start(figure.day, granularity), figure.currency)
        row = rows.get(key)
        if row is None:
            row = rows[key] = kind(bucket=key[0], currency=key[1])
        for name, value in figure.values.items():
            if name not in names:
                raise KeyError(f"{kind.__name__} has no figure {name!r}")
            setattr(row, name, getattr(row, name) + int(value))
    return [rows[key] for key in sorted(rows)]
