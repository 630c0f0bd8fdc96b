"""Keyset pagination on (timestamp, id) for SQLAlchemy Core queries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, tuple_

from emporium.platform.errors import FieldError, ValidationFailed
from emporium.platform.pagination import KeyPart, decode_cursor


def time_id_key(at: datetime, row_id: str) -> Sequence[KeyPart]:
    return (at.isoformat(), row_id)


def keyset_page_query(
    query: Select[Any],
    time_column: ColumnElement[datetime],
    id_column: ColumnElement[str],
    cursor: str | None,
    limit: int,
    *,
    descending: bool = False,
) -> Select[Any]:
    """Order by (time, id), start after `cursor`, fetch limit+1 rows (the extra one signals a next page)."""
    if cursor:
        at_raw, last_id = decode_cursor(cursor, 2)
        try:
            at = datetime.fromisoformat(str(at_raw))
        except ValueError:
            raise ValidationFailed(
                "the cursor is not one this API issued",
                errors=[FieldError("cursor", "invalid_cursor", "pass back a next_cursor unchanged")],
            ) from None
        # A row comparison (not `a < x OR (a = x AND b < y)`) lets PostgreSQL seek the (…, time, id) index
        # straight to the position, so a deep page costs what the first one does.
        key, position = tuple_(time_column, id_column), tuple_(at, str(last_id))
        query = query.where(key < position if descending else key > position)
    order = (time_column.desc(), id_column.desc()) if descending else (time_column.asc(), id_column.asc())
    return query.order_by(*order).limit(limit + 1)
