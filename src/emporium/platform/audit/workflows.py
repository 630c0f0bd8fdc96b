"""Recording a refused or failed mutating request (its own transaction: the request's was rolled back)."""

from __future__ import annotations

from emporium.platform.audit import store
from emporium.platform.audit.entries import AuditContext
from emporium.platform.db.engine import Database
from emporium.platform.db.transaction import transaction
from emporium.platform.telemetry.tracing import traced


@traced
async def record_failed_request(db: Database, context: AuditContext, target_id: str | None, status: int) -> None:
    async with transaction(db) as tx:
        await store.record(tx, context, target_id, status)
        await tx.commit()
