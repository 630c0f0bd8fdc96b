"""The reporting store's tables: SQLAlchemy Core, portable to PostgreSQL, MariaDB/MySQL and SQL Server.

They are declared on a MetaData of their own (not the application's): the store may be another database,
migrated by reporting's own Alembic environment (`modules/reporting/migrations`). Tables are qualified by the
`reporting` schema; on MariaDB/MySQL, where a schema is a database, the store's engine maps it to the URL's
database (`schema_translate_map`). Only portable types: VARCHAR keys (MySQL cannot index TEXT), BIGINT
minor units, DATE days, naive-UTC DATETIME, BOOLEAN.

One table per event kind, keyed by what makes the fact unique (see domain.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DATE, BigInteger, Boolean, Column, DateTime, Index, Integer, MetaData, String, Table
from sqlalchemy.dialects import mssql, mysql, postgresql
from sqlalchemy.types import TypeEngine

from emporium.platform.db.schema import NAMING_CONVENTION

SCHEMA = "reporting"
metadata = MetaData(naming_convention=NAMING_CONVENTION)

ID = 64  # prefixed KSUIDs are 31 characters; room for other id shapes
SKU = 200
NAME = 500


def exact_text(length: int) -> TypeEngine[str]:
    """VARCHAR compared and sorted byte for byte on every dialect: MariaDB's and SQL Server's default
    collations ignore case, and ids (KSUIDs are base62) and SKUs that differ only in case are different
    things; PostgreSQL's `C` collation makes a report's tie order the same as theirs."""
    return (
        String(length)
        .with_variant(mysql.VARCHAR(length, collation="utf8mb4_bin"), "mysql", "mariadb")
        .with_variant(mssql.VARCHAR(length, collation="Latin1_General_100_BIN2_UTF8"), "mssql")
        .with_variant(postgresql.VARCHAR(length, collation="C"), "postgresql")
    )


def utc_time() -> TypeEngine[datetime]:
    """A naive UTC instant with microseconds: DATETIME2 on SQL Server, DATETIME(6) on MariaDB."""
    return (
        DateTime(timezone=False)
        .with_variant(mssql.DATETIME2(), "mssql")  # type: ignore[no-untyped-call]
        .with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
    )


def _org() -> Column[str]:
    return Column("org_id", exact_text(ID), nullable=False)


def _day() -> Column[object]:
    return Column("day", DATE(), nullable=False)  # DATE everywhere (SQL Server's `Date` is DATETIME before 2008)


def _currency() -> Column[str]:
    return Column("currency", exact_text(3), nullable=False)


def _amount(name: str = "amount_minor") -> Column[int]:
    return Column(name, BigInteger, nullable=False)


order_placed = Table(
    "order_placed",
    metadata,
    Column("order_id", exact_text(ID), primary_key=True),
    _org(),
    _currency(),
    _amount("total_minor"),
    _day(),
    Index("ix_order_placed_org_id_day", "org_id", "day"),
    schema=SCHEMA,
)

order_paid = Table(
    "order_paid",
    metadata,
    Column("order_id", exact_text(ID), primary_key=True),
    _org(),
    _currency(),
    _amount("total_minor"),
    Column("units", Integer, nullable=False),
    _day(),
    Index("ix_order_paid_org_id_day", "org_id", "day"),
    schema=SCHEMA,
)

order_line = Table(
    "order_line",
    metadata,
    Column("order_id", exact_text(ID), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    _org(),
    Column("sku", exact_text(SKU), nullable=False),
    Column("name", exact_text(NAME), nullable=False),
    _currency(),
    Column("quantity", Integer, nullable=False),
    _amount("revenue_minor"),
    _day(),
    Index("ix_order_line_org_id_day", "org_id", "day"),
    schema=SCHEMA,
)

order_refund = Table(
    "order_refund",
    metadata,
    Column("event_id", exact_text(ID), primary_key=True),
    _org(),
    Column("order_id", exact_text(ID), nullable=False),
    _currency(),
    _amount(),
    _day(),
    Index("ix_order_refund_org_id_day", "org_id", "day"),
    Index("ix_order_refund_order_id", "order_id"),
    schema=SCHEMA,
)

order_cancelled = Table(
    "order_cancelled",
    metadata,
    Column("order_id", exact_text(ID), primary_key=True),
    _org(),
    _currency(),
    _amount("total_minor"),
    Column("was_paid", Boolean, nullable=False),
    _day(),
    Index("ix_order_cancelled_org_id_day", "org_id", "day"),
    schema=SCHEMA,
)

order_shipped = Table(
    "order_shipped",
    metadata,
    Column("order_id", exact_text(ID), primary_key=True),
    _org(),
    _day(),
    Index("ix_order_shipped_org_id_day", "org_id", "day"),
    schema=SCHEMA,
)

payment_authorized = Table(
    "payment_authorized",
    metadata,
    Column("payment_id", exact_text(ID), primary_key=True),
    _org(),
    Column("order_id", exact_text(ID), nullable=False),
    _currency(),
    _amount(),
    _day(),
    Index("ix_payment_authorized_org_id_day", "org_id", "day"),
    schema=SCHEMA,
)

payment_captured = Table(
    "payment_captured",
    metadata,
    Column("event_id", exact_text(ID), primary_key=True),
    _org(),
    Column("payment_id", exact_text(ID), nullable=False),
    _currency(),
    _amount(),
    _day(),
    Index("ix_payment_captured_org_id_day", "org_id", "day"),
    schema=SCHEMA,
)

payment_failed = Table(
    "payment_failed",
    metadata,
    Column("payment_id", exact_text(ID), primary_key=True),
    _org(),
    Column("order_id", exact_text(ID), nullable=False),
    Column("status", exact_text(16), nullable=False),
    _day(),
    Index("ix_payment_failed_org_id_day", "org_id", "day"),
    schema=SCHEMA,
)

payment_voided = Table(
    "payment_voided",
    metadata,
    Column("payment_id", exact_text(ID), primary_key=True),
    _org(),
    Column("order_id", exact_text(ID), nullable=False),
    _day(),
    Index("ix_payment_voided_org_id_day", "org_id", "day"),
    schema=SCHEMA,
)

payment_refund = Table(
    "payment_refund",
    metadata,
    Column("event_id", exact_text(ID), primary_key=True),
    _org(),
    Column("payment_id", exact_text(ID), nullable=False),
    _currency(),
    _amount(),
    _day(),
    Index("ix_payment_refund_org_id_day", "org_id", "day"),
    schema=SCHEMA,
)

# The projection's inbox: one row per (consumer, event) applied, in the store's own database (the effect's
# transaction), with the event's time for the lag (`now - newest occurred_at`).
applied_event = Table(
    "applied_event",
    metadata,
    Column("consumer", exact_text(100), primary_key=True),
    Column("event_id", exact_text(ID), primary_key=True),
    Column("org_id", exact_text(ID), nullable=False),
    Column("occurred_at", utc_time(), nullable=False),
    Column("applied_at", utc_time(), nullable=False),
    Index("ix_applied_event_occurred_at", "occurred_at"),
    Index("ix_applied_event_org_id", "org_id"),
    schema=SCHEMA,
)

FACT_TABLES: tuple[Table, ...] = (
    order_placed,
    order_paid,
    order_line,
    order_refund,
    order_cancelled,
    order_shipped,
    payment_authorized,
    payment_captured,
    payment_failed,
    payment_voided,
    payment_refund,
)
