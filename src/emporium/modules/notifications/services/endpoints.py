"""Webhook endpoints (service role): reads, locks, secret rotation, failure tracking."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select, update

from emporium.modules.identity import api as identity_api
from emporium.modules.notifications.domain import DisableReason
from emporium.modules.notifications.tables import (
    webhook_endpoint,
)
from emporium.platform.db.tx import Tx
from emporium.platform.telemetry.tracing import traced


@dataclass(frozen=True, slots=True)
class Endpoint:
    id: str
    org_id: str
    url: str
    event_types: list[str]
    enabled: bool
    secret: str
    previous_secret: str | None
    previous_secret_expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class Claimed:
    """A due delivery claimed by a worker, with what it needs to send it."""

    id: str
    org_id: str
    endpoint_id: str
    message_id: str
    body: str
    traceparent: str | None
    attempts: int
    total_attempts: int


def _endpoint(row: Row[Any]) -> Endpoint:
    return Endpoint(
        id=row.id,
        org_id=row.org_id,
        url=row.url,
        event_types=list(row.event_types),
        enabled=row.enabled,
        secret=row.secret,
        previous_secret=row.previous_secret,
        previous_secret_expires_at=row.previous_secret_expires_at,
    )


@traced
async def enabled_endpoints(tx: Tx, org_id: str) -> list[Endpoint]:
    query = select(webhook_endpoint).where(webhook_endpoint.c.org_id == org_id, webhook_endpoint.c.enabled)
    return [_endpoint(r) for r in (await tx.execute(query)).all()]


@traced
async def endpoints_by_id(tx: Tx, ids: Sequence[str]) -> dict[str, Endpoint]:
    if not ids:
        return {}
    rows = (await tx.execute(select(webhook_endpoint).where(webhook_endpoint.c.id.in_(sorted(set(ids)))))).all()
    return {r.id: _endpoint(r) for r in rows}


@traced
async def lock_endpoint(tx: Tx, org_id: str, endpoint_id: str) -> dict[str, Any] | None:
    query = (
        select(webhook_endpoint)
        .where(webhook_endpoint.c.org_id == org_id, webhook_endpoint.c.id == endpoint_id)
        .with_for_update()
    )
    row = (await tx.execute(query)).mappings().one_or_none()
    return dict(row) if row else None


@traced
async def rotate_secret(
    tx: Tx, org_id: str, endpoint_id: str, new_secret: str, previous_until: datetime
) -> dict[str, Any] | None:
    statement = (
        update(webhook_endpoint)
        .where(webhook_endpoint.c.org_id == org_id, webhook_endpoint.c.id == endpoint_id)
        .values(
            previous_secret=webhook_endpoint.c.secret,
            previous_secret_expires_at=previous_until,
            secret=new_secret,
            version=webhook_endpoint.c.version + 1,
            updated_at=func.now(),
        )
        .returning(*webhook_endpoint.c)
    )
    row = (await tx.execute(statement)).mappings().one_or_none()
    return dict(row) if row else None


@traced
async def track_failures(tx: Tx, succeeded: Sequence[str], failed: Sequence[str], now: datetime) -> dict[str, datetime]:
    """Reset `failing_since` of endpoints that had a success; start it for the others; their `failing_since`."""
    if succeeded:
        await tx.execute(
            update(webhook_endpoint)
            .where(webhook_endpoint.c.id.in_(sorted(set(succeeded))), webhook_endpoint.c.failing_since.is_not(None))
            .values(failing_since=None)
        )
    only_failed = sorted(set(failed) - set(succeeded))
    if not only_failed:
        return {}
    statement = (
        update(webhook_endpoint)
        .where(webhook_endpoint.c.id.in_(only_failed), webhook_endpoint.c.enabled)
        .values(failing_since=func.coalesce(webhook_endpoint.c.failing_since, now))
        .returning(webhook_endpoint.c.id, webhook_endpoint.c.failing_since)
    )
    return {r.id: r.failing_since for r in (await tx.execute(statement)).all()}


@traced
async def disable_endpoint(tx: Tx, endpoint_id: str, reason: DisableReason) -> Endpoint | None:
    """Disable an enabled endpoint; None if it was already disabled (or is gone), so only one caller tells the org."""
    statement = (
        update(webhook_endpoint)
        .where(webhook_endpoint.c.id == endpoint_id, webhook_endpoint.c.enabled)
        .values(
            enabled=False, disabled_reason=reason.value, version=webhook_endpoint.c.version + 1, updated_at=func.now()
        )
        .returning(*webhook_endpoint.c)
    )
    row = (await tx.execute(statement)).one_or_none()
    return _endpoint(row) if row else None


@traced
async def owner_emails(tx: Tx, org_id: str) -> list[str]:
    return await identity_api.owner_emails(tx, org_id)
