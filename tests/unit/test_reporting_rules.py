"""Reporting's pure rules: buckets, integer averages, roll-ups, content negotiation, CSV cells, upserts per dialect."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import mysql, postgresql

from emporium.modules.reporting import tables
from emporium.modules.reporting.domain import (
    DailyFigure,
    Granularity,
    SalesRow,
    average,
    bucket_start,
    roll_up,
    utc_day,
)
from emporium.modules.reporting.schemas import SalesRowOut, to_csv, wants_csv
from emporium.modules.reporting.upserts import upsert


def test_buckets_start_on_the_day_the_iso_monday_and_the_first_of_the_month() -> None:
    sunday = date(2026, 3, 1)
    assert bucket_start(sunday, Granularity.DAY) == sunday
    assert bucket_start(sunday, Granularity.WEEK) == date(2026, 2, 23)
    assert bucket_start(sunday, Granularity.MONTH) == date(2026, 3, 1)
    assert bucket_start(date(2026, 2, 28), Granularity.MONTH) == date(2026, 2, 1)


def test_a_day_is_the_utc_day_whatever_the_offset_of_the_instant() -> None:
    late_in_berlin = datetime(2026, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1)))
    assert utc_day(late_in_berlin) == date(2025, 12, 31)
    assert utc_day(datetime(2026, 1, 1, 23, 59, tzinfo=UTC)) == date(2026, 1, 1)


@given(total=st.integers(0, 10**12), count=st.integers(1, 10**6))
def test_the_average_is_the_integer_mean_rounded_half_up(total: int, count: int) -> None:
    mean = average(total, count)
    assert abs(mean * count - total) * 2 <= count  # the nearest integer
    assert (2 * total) % (2 * count) != count or mean * count > total  # a half goes up
    assert average(total, 0) == 0


def test_daily_figures_roll_up_into_weeks_per_currency() -> None:
    figures = [
        DailyFigure(date(2026, 3, 2), "EUR", {"orders": 1, "gross_minor": 100}),
        DailyFigure(date(2026, 3, 8), "EUR", {"orders": 2, "gross_minor": 250, "refunded_minor": 50}),
        DailyFigure(date(2026, 3, 8), "USD", {"orders": 1, "gross_minor": 70}),
        DailyFigure(date(2026, 3, 9), "EUR", {"orders": 1, "gross_minor": 10}),
    ]
    rows = roll_up(SalesRow, figures, Granularity.WEEK)
    assert [(r.bucket, r.currency, r.orders, r.gross_minor, r.net_minor) for r in rows] == [
        (date(2026, 3, 2), "EUR", 3, 350, 300),
        (date(2026, 3, 2), "USD", 1, 70, 70),
        (date(2026, 3, 9), "EUR", 1, 10, 10),
    ]
    assert rows[0].average_order_minor == 117
    with pytest.raises(KeyError):
        roll_up(SalesRow, [DailyFigure(date(2026, 3, 2), "EUR", {"bogus": 1})], Granularity.DAY)


@pytest.mark.parametrize(
    ("accept", "csv"),
    [
        (None, False),
        ("application/json", False),
        ("text/csv", True),
        ("text/csv;q=0.9, application/json", True),
        ("application/json, text/csv", False),
        ("*/*", False),
    ],
)
def test_csv_only_when_asked_for_before_json(accept: str | None, csv: bool) -> None:
    assert wants_csv(accept) is csv


def test_csv_has_a_header_and_quotes_what_a_spreadsheet_would_run() -> None:
    row = SalesRowOut.of(SalesRow(date(2026, 1, 5), "EUR", orders=1, gross_minor=100, refunded_minor=300))
    text = to_csv([row], SalesRowOut)
    header, line = text.splitlines()
    assert header.startswith("bucket,currency,orders,units,gross_minor")
    assert line.startswith("2026-01-05,EUR,1,0,100") and ",-200," in line  # a negative net stays a number
    assert "'=cmd" in to_csv([row.model_copy(update={"currency": "=cmd"})], SalesRowOut)


def test_the_upsert_is_one_statement_per_dialect() -> None:
    keep_pg = str(upsert("postgresql", tables.order_paid).compile(dialect=postgresql.dialect()))  # type: ignore[attr-defined]
    assert "ON CONFLICT (order_id) DO NOTHING" in keep_pg
    keep_my = str(upsert("mysql", tables.order_paid).compile(dialect=mysql.dialect()))  # type: ignore[attr-defined]
    assert "ON DUPLICATE KEY UPDATE order_id = reporting.order_paid.order_id" in keep_my
    merge = str(upsert("mssql", tables.order_paid, update=("units",)))
    assert merge.startswith("MERGE INTO reporting.order_paid WITH (HOLDLOCK) AS target")
    assert "WHEN MATCHED THEN UPDATE SET target.units = source.units" in merge
    with pytest.raises(ValueError, match="sqlite"):
        upsert("sqlite", tables.order_paid)
