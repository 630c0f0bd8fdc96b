"""Reads, and the recovery job's work list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from emporium.modules.payments import services as store
from emporium.modules.payments.domain import (
    Payment,
)
from emporium.modules.payments.workflows.common import read_payment
from emporium.platform.auth.principal import Principal
from emporium.platform.db.engine import Database
from emporium.platform.db.transaction import transaction
from emporium.platform.telemetry.tracing import traced


@traced
async def get_payment(db: Database, principal: Principal, payment_id: str) -> Payment:
    return await read_payment(db, principal.org_id, payment_id)


@traced
async def payment_for_order(db: Database, *, org_id: str, order_id: str) -> Payment | None:
    """The order's live payment, else its most recent one (None when it never had one)."""
    async with transaction(db) as tx:
        return await store.latest_for_order(tx, org_id, order_id)


@traced
async def stale_pending(db: Database, *, older_than: timedelta, limit: int) -> list[Payment]:
    """Pending payments created more than `older_than` ago (any org), oldest first: recovery's work list."""
    async with transaction(db) as tx:
        return await store.pending_before(tx, datetime.now(UTC) - older_than, limit)
