"""Audit log storage (service role): write in the caller's transaction, list with keyset pages."""

from __future__ import annotations

from sqlalchemy import bindparam, insert, select

from emporium.platform.audit.entries import AuditContext, AuditEntry, AuditFilter
from emporium.platform.audit.tables import audit_log
from emporium.platform.db.keyset import keyset_page_query, time_id_key
from emporium.platform.db.tx import Tx
from emporium.platform.ids import new_id
from emporium.platform.pagination import Page, page_of

# Built once: each write binds values only (bind names `p_*`: one named like a column is reserved in VALUES).
_COLUMNS = ("id", "org_id", "actor_type", "actor_id", "action", "target_id", "request_id", "status")
_RECORD = insert(audit_log).values({name: bindparam(f"p_{name}") for name in _COLUMNS})


async def record(tx: Tx, context: AuditContext, target_id: str | None, status: int | None = None) -> None:
    await tx.execute(
        _RECORD,
        {
            "p_id": new_id("aud"),
            "p_org_id": context.org_id,
            "p_actor_type": context.actor_type,
            "p_actor_id": context.actor_id,
            "p_action": context.action,
            "p_target_id": target_id,
            "p_request_id": context.request_id,
            "p_status": context.success_status if status is None else status,
        },
    )


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
