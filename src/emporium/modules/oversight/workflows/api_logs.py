"""The API request log: written in batches by the request-log writer, read by an org's owners and admins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from emporium.modules.oversight import services as store
from emporium.modules.oversight.domain import ApiRequest, ApiRequestFilter
from emporium.platform.auth.principal import Principal
from emporium.platform.db.engine import Database
from emporium.platform.db.transaction import transaction
from emporium.platform.errors import FieldError, ValidationFailed
from emporium.platform.pagination import Page, decode_cursor
from emporium.platform.requestlog import RequestRecord

PURGE_BATCH = 5_000
MAX_PURGE_BATCHES = 200  # one run deletes at most a million rows; the next run continues


async def record_api_requests(db: Database, records: list[RequestRecord]) -> None:
    if not records:
        return
    async with transaction(db) as tx:
        await store.insert_requests(tx, records)
        await tx.commit()


def _position(cursor: str | None) -> tuple[datetime, int] | None:
    if cursor is None:
        return None
    at, last_id = decode_cursor(cursor, 2)
    try:
        if not isinstance(at, str) or not isinstance(last_id, int) or isinstance(last_id, bool):
            raise ValueError
        return datetime.fromisoformat(at), last_id
    except ValueError:
        raise ValidationFailed(
            "the cursor is not one this API issued",
            errors=[FieldError("cursor", "invalid_cursor", "pass back a next_cursor unchanged")],
        ) from None


async def list_api_requests(
    db: Database, principal: Principal, where: ApiRequestFilter, cursor: str | None, limit: int
) -> Page[ApiRequest]:
    """The principal's org's requests, newest first."""
    after = _position(cursor)
    async with transaction(db) as tx:
        return await store.list_requests(tx, principal.org_id, where, after, limit)


async def purge_api_requests(db: Database, retention_days: int) -> int:
    """Delete requests older than the retention, in short transactions; the number deleted."""
    cutoff = datetime.now(UTC) - timedelta(days=retention_days)
    total = 0
    for _ in range(MAX_PURGE_BATCHES):
        async with transaction(db) as tx:
            deleted = await store.purge_requests_before(tx, cutoff, PURGE_BATCH)
            await tx.commit()
        total += deleted
        if deleted < PURGE_BATCH:
            break
    return total


async def api_request_minutes(
    db: Database, principal: Principal, minutes: int = 30
) -> list[tuple[datetime, int, int, int]]:
    """The org's last `minutes` of traffic, per minute: (minute, requests, 5xx, checkouts placed)."""
    since = datetime.now(UTC) - timedelta(minutes=minutes)
    async with transaction(db) as tx:
        return await store.request_counts_by_minute(tx, principal.org_id, since)
