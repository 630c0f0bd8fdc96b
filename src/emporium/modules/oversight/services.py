"""Oversight storage: flag settings and the API request log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert

from emporium.modules.identity import api as identity_api
from emporium.modules.oversight.domain import ApiRequest, ApiRequestFilter
from emporium.modules.oversight.tables import api_request, flag_setting
from emporium.platform.db.deferred import json_rows
from emporium.platform.db.tx import Tx
from emporium.platform.flags import Setting
from emporium.platform.pagination import Page, page_of
from emporium.platform.requestlog import RequestRecord
from emporium.platform.telemetry.tracing import traced


async def all_settings(tx: Tx) -> list[Setting]:
    rows = await tx.execute(select(flag_setting.c.flag, flag_setting.c.org_id, flag_setting.c.percentage))
    return [Setting(row.flag, row.org_id, row.percentage) for row in rows]


@traced
async def put_setting(tx: Tx, flag: str, org_id: str, percentage: int, updated_by: str) -> None:
    statement = pg_insert(flag_setting).values(flag=flag, org_id=org_id, percentage=percentage, updated_by=updated_by)
    await tx.execute(
        statement.on_conflict_do_update(
            index_elements=[flag_setting.c.flag, flag_setting.c.org_id],
            set_={"percentage": percentage, "updated_by": updated_by, "updated_at": datetime.now().astimezone()},
        )
    )


@traced
async def delete_setting(tx: Tx, flag: str, org_id: str) -> bool:
    result = await tx.execute(delete(flag_setting).where(flag_setting.c.flag == flag, flag_setting.c.org_id == org_id))
    return bool(result.rowcount)


# The batch as one JSON bind (`json_rows`): one statement text, prepared once, whatever the batch's size.
_INSERT_REQUESTS = text(
    """
    INSERT INTO oversight.api_request (occurred_at, org_id, actor_type, actor_id, method, route, status, latency_ms,
                                       idempotency_key, request_id)
    SELECT * FROM json_to_recordset(CAST(:requests AS json))
                  AS r(occurred_at timestamptz, org_id text, actor_type text, actor_id text, method text, route text,
                       status smallint, latency_ms double precision, idempotency_key text, request_id text)
    """
)


async def insert_requests(tx: Tx, records: Sequence[RequestRecord]) -> None:
    """The whole batch in one statement."""
    rows = [
        {"occurred_at": r.occurred_at.isoformat(), "org_id": r.org_id, "actor_type": r.actor_type,
         "actor_id": r.actor_id, "method": r.method, "route": r.route, "status": r.status,
         "latency_ms": r.latency_ms, "idempotency_key": r.idempotency_key, "request_id": r.request_id}
        for r in records
    ]  # fmt: skip
    await tx.execute(_INSERT_REQUESTS, {"requests": json_rows(rows)})


def _request(row: Any) -> ApiRequest:
    return ApiRequest(**row._mapping)


@traced
async def list_requests(
    tx: Tx, org_id: str, where: ApiRequestFilter, after: tuple[datetime, int] | None, limit: int
) -> Page[ApiRequest]:
    """Newest first, keyset-paged on (occurred_at, id) inside the org (the index's order)."""
    query = select(api_request).where(api_request.c.org_id == org_id)
    if where.route:
        query = query.where(api_request.c.route == where.route)
    if where.method:
        query = query.where(api_request.c.method == where.method)
    if where.status is not None:
        query = query.where(api_request.c.status == where.status)
    if where.actor_id:
        query = query.where(api_request.c.actor_id == where.actor_id)
    if where.occurred_from:
        query = query.where(api_request.c.occurred_at >= where.occurred_from)
    if where.occurred_to:
        query = query.where(api_request.c.occurred_at < where.occurred_to)
    if after is not None:
        query = query.where(tuple_(api_request.c.occurred_at, api_request.c.id) < tuple_(*after))
    query = query.order_by(api_request.c.occurred_at.desc(), api_request.c.id.desc()).limit(limit + 1)
    rows = [_request(row) for row in await tx.execute(query)]
    return page_of(rows, limit, lambda r: (r.occurred_at.isoformat(), r.id))


@traced
async def purge_requests_before(tx: Tx, cutoff: datetime, batch: int) -> int:
    """Delete up to `batch` of the oldest requests before `cutoff` (small batches: no long lock)."""
    oldest = select(api_request.c.id).where(api_request.c.occurred_at < cutoff).limit(batch).scalar_subquery()
    result = await tx.execute(delete(api_request).where(api_request.c.id.in_(oldest)))
    return int(result.rowcount or 0)


async def org_exists(tx: Tx, org_id: str) -> bool:
    return await identity_api.org_exists(tx, org_id)


@traced
async def request_counts_by_minute(tx: Tx, org_id: str, since: datetime) -> list[tuple[datetime, int, int, int]]:
    """Per minute since `since`: (minute, requests, 5xx answers, checkouts answered 2xx) of the org."""
    minute = func.date_trunc("minute", api_request.c.occurred_at).label("minute")
    is_checkout = (api_request.c.route == "/v1/orders") & (api_request.c.method == "POST")
    query = (
        select(
            minute,
            func.count(),
            func.count().filter(api_request.c.status >= 500),
            func.count().filter(is_checkout & (api_request.c.status < 300)),
        )
        .where(api_request.c.org_id == org_id, api_request.c.occurred_at >= since)
        .group_by(minute)
        .order_by(minute)
    )
    rows: list[Any] = list(await tx.execute(query))
    return [(row[0], row[1], row[2], row[3]) for row in rows]
