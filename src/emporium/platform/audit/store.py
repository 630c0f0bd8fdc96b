"""Audit log storage (service role): write in the caller's transaction, list with keyset pages."""

from __future__ import annotations

from sqlalchemy import select

from emporium.platform.audit.entries import AuditContext, AuditEntry, AuditFilter
from emporium.platform.audit.tables import audit_log
from emporium.platform.db.deferred import DeferredWrite, json_rows
from emporium.platform.db.keyset import keyset_page_query, time_id_key
from emporium.platform.db.tx import Tx
from emporium.platform.ids import new_id
from emporium.platform.pagination import Page, page_of

# Written with the transaction's other deferred writes, just before its COMMIT (nothing reads an audit
# row back in the transaction that writes it): one round trip for all of them.
_RECORD = DeferredWrite[tuple[AuditContext, str | None, int]](
    "audit",
    """
    INSERT INTO platform.audit_log (id, org_id, actor_type, actor_id, action, target_id, request_id, status)
    SELECT * FROM json_to_recordset(CAST(:records AS json))
                  AS r(id text, org_id text, actor_type text, actor_id text, action text, target_id text,
                       request_id text, status smallint)
    RETURNING 1
    """,
    lambda records: {
        "records": json_rows(
            [
                {
                    "id": new_id("aud"),
                    "org_id": c.org_id,
                    "actor_type": c.actor_type,
                    "actor_id": c.actor_id,
                    "action": c.action,
                    "target_id": target,
                    "request_id": c.request_id,
                    "status": status,
                }
                for c, target, status in records
            ]
        )
    },
)


async def record(tx: Tx, context: AuditContext, target_id: str | None, status: int | None = None) -> None:
    """Record the action in the caller's transaction: written just before its COMMIT, gone on rollback."""
    tx.write_before_commit(_RECORD, (context, target_id, context.success_status if status is None else status))


async def list_entries(tx: Tx, org_id: str, where: AuditFilter, cursor: str | None, limit: int) -> Page[AuditEntry]:
    query = select(audit_log).where(audit_log.c.org_id == org_id)
    if where.actor_id:
        query = query.where(audit_log.c.actor_id == where.actor_id)
    if where.action:
        query = query.where(audit_log.c.action == where.action)
    if where.target_id:
        query = query.where(audit_log.c.target_id == where.target_id)
    if where.occurred_from:
        query = query.where(audit_log.c.occurred_at >= where.occurred_from)
    if where.occurred_to:
        query = query.where(audit_log.c.occurred_at < where.occurred_to)
    query = keyset_page_query(query, audit_log.c.occurred_at, audit_log.c.id, cursor, limit, descending=True)
    rows = [AuditEntry(**row._mapping) for row in await tx.execute(query)]
    return page_of(rows, limit, lambda e: time_id_key(e.occurred_at, e.id))
