"""The query parameters of every paginated list: `cursor` and `limit`, declared once."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from emporium.platform.pagination import MAX_LIMIT

Cursor = Annotated[str | None, Query(max_length=512, description="`next_cursor` from the previous page.")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size.")]
