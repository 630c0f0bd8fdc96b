"""Reporting's API shapes: the query parameters, the JSON bodies and the CSV rendering of the same rows."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from emporium.modules.reporting.domain import Granularity, PaymentsRow, ProductRow, ProductSort, SalesRow
from emporium.platform.errors import FieldError, ValidationFailed

MAX_DAYS = 3660  # ten years of daily rows per currency is the most one request sums
EARLIEST = date(1970, 1, 1)
CURRENCY = r"^[A-Z]{3}$"


class RangeQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    start: date = Field(alias="from", description="First UTC day included (YYYY-MM-DD).")
    end: date = Field(alias="to", description="Last UTC day included (YYYY-MM-DD).")
    currency: str | None = Field(None, pattern=CURRENCY, description="Only this ISO 4217 currency.")

    def checked(self) -> tuple[date, date]:
        """The range, refused when it runs backwards, starts before 1970 or spans more than MAX_DAYS days."""
        if self.start < EARLIEST:
            raise ValidationFailed(
                "the range starts before 1970",
                errors=[FieldError("query.from", "too_early", f"from must be {EARLIEST.isoformat()} or later")],
            )
        if self.end < self.start:
            raise ValidationFailed(
                "the range ends before it starts",
                errors=[FieldError("query.to", "before_from", "to must not precede from")],
            )
        if (self.end - self.start).days >= MAX_DAYS:
            raise ValidationFailed(
                "the range is too long",
                errors=[FieldError("query.to", "range_too_long", f"a report covers at most {MAX_DAYS} days")],
            )
        return self.start, self.end


class BucketedQuery(RangeQuery):
    granularity: Granularity = Field(Granularity.DAY, description="UTC days, ISO weeks (from Monday) or months.")


class ProductsQuery(RangeQuery):
    sort: ProductSort = ProductSort.REVENUE
    limit: int = Field(50, ge=1, le=1000)


class SalesRowOut(BaseModel):
    bucket: date = Field(description="First day of the bucket (UTC).")
    currency: str
    orders: int = Field(description="Orders paid in the bucket.")
    units: int
    gross_minor: int = Field(description="Totals of the orders paid, shipping included.")
    refunds: int
    refunded_minor: int
    cancellations: int = Field(description="Paid orders cancelled in the bucket.")
    cancelled_minor: int = Field(description="Their totals less what had been refunded before.")
    net_minor: int = Field(description="gross - refunded - cancelled")
    average_order_minor: int = Field(description="gross / orders, rounded half up.")
    shipped: int

    @classmethod
    def of(cls, row: SalesRow) -> SalesRowOut:
        return cls(
            bucket=row.bucket, currency=row.currency, orders=row.orders, units=row.units,
            gross_minor=row.gross_minor, refunds=row.refunds, refunded_minor=row.refunded_minor,
            cancellations=row.cancellations, cancelled_minor=row.cancelled_minor, net_minor=row.net_minor,
            average_order_minor=row.average_order_minor, shipped=row.shipped,
        )  # fmt: skip


class PaymentsRowOut(BaseModel):
    bucket: date
    currency: str
    authorized: int
    authorized_minor: int
    captured: int
    captured_minor: int
    declined: int
    declined_minor: int
    failed: int
    failed_minor: int
    voided: int
    voided_minor: int
    refunds: int
    refunded_minor: int

    @classmethod
    def of(cls, row: PaymentsRow) -> PaymentsRowOut:
        return cls.model_validate(row, from_attributes=True)


class ProductRowOut(BaseModel):
    currency: str
    sku: str
    name: str
    units: int
    revenue_minor: int
    orders: int

    @classmethod
    def of(cls, row: ProductRow) -> ProductRowOut:
        return cls.model_validate(row, from_attributes=True)


class SalesReportOut(BaseModel):
    start: date = Field(serialization_alias="from")
    end: date = Field(serialization_alias="to")
    granularity: Granularity
    rows: list[SalesRowOut]


class PaymentsReportOut(BaseModel):
    start: date = Field(serialization_alias="from")
    end: date = Field(serialization_alias="to")
    granularity: Granularity
    rows: list[PaymentsRowOut]


class ProductsReportOut(BaseModel):
    start: date = Field(serialization_alias="from")
    end: date = Field(serialization_alias="to")
    sort: ProductSort
    rows: list[ProductRowOut]


CSV_MEDIA_TYPE = "text/csv"
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {CSV_MEDIA_TYPE: {"schema": {"type": "string"}}},
        "description": "JSON, or with `Accept: text/csv` the same rows as CSV (a header line, then one line per row).",
    }
}


def wants_csv(accept: str | None) -> bool:
    """`Accept: text/csv` (alone or preferred over JSON by order) asks for CSV."""
    if not accept:
        return False
    types = [part.split(";", 1)[0].strip().lower() for part in accept.split(",")]
    return CSV_MEDIA_TYPE in types and (
        "application/json" not in types or types.index(CSV_MEDIA_TYPE) < types.index("application/json")
    )


def to_csv(rows: Sequence[BaseModel], row_type: type[BaseModel]) -> str:
    """One header line (the JSON field names), then one line per row; dates as YYYY-MM-DD."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    names = list(row_type.model_fields)
    writer.writerow(names)
    for row in rows:
        data = row.model_dump(mode="json")
        writer.writerow([_cell(data[name]) for name in names])
    return out.getvalue()


def _cell(value: object) -> object:
    """Text a spreadsheet would run as a formula (a product named `=HYPERLINK(...)`) is quoted with `'`."""
    if isinstance(value, str) and value.startswith(("=", "+", "-", "@", "\t", "\r")):
        return "'" + value
    return value
