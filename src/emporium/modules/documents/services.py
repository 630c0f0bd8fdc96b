"""Documents' store: SQL on the `documents` schema only (service role: the caller's transaction)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select, text, update

from emporium.modules.documents.domain import Content, Document, DocumentKind, DocumentState
from emporium.modules.documents.tables import document
from emporium.modules.orders import api as orders_api
from emporium.platform.db.tx import Tx
from emporium.platform.telemetry.tracing import traced

# One statement: bump (or start) the (org, kind) counter and insert the document with the new number.
# The counter row stays locked until the caller commits, so concurrent issuers of one (org, kind) queue
# here, and a rollback returns the number: no gap, no duplicate.
_INSERT_NUMBERED = text(
    """
    WITH counter AS (
        INSERT INTO documents.number_counter AS c (org_id, kind, last_number)
        VALUES (:org_id, :kind, 1)
        ON CONFLICT (org_id, kind) DO UPDATE SET last_number = c.last_number + 1
        RETURNING last_number
    )
    INSERT INTO documents.document (id, org_id, kind, number, order_id, state, source_event_id, content, issued_at)
    SELECT :id, :org_id, :kind, counter.last_number, :order_id, 'requested', :source_event_id,
           CAST(:content AS jsonb), :issued_at
    FROM counter
    RETURNING *
    """
)


def _document(row: Any) -> Document:
    return Document(
        id=row.id,
        org_id=row.org_id,
        kind=DocumentKind(row.kind),
        number=row.number,
        order_id=row.order_id,
        state=DocumentState(row.state),
        issued_at=row.issued_at,
        content=Content.from_json(row.content),
        content_sha256=row.content_sha256,
        size_bytes=row.size_bytes,
        stored_at=row.stored_at,
        voided_at=row.voided_at,
        source_event_id=row.source_event_id,
    )


@traced
async def insert_numbered(
    tx: Tx,
    *,
    document_id: str,
    org_id: str,
    kind: DocumentKind,
    order_id: str,
    source_event_id: str,
    content: Content,
    issued_at: datetime,
) -> Document:
    params = {
        "id": document_id,
        "org_id": org_id,
        "kind": kind.value,
        "order_id": order_id,
        "source_event_id": source_event_id,
        "content": json.dumps(content.to_json()),
        "issued_at": issued_at,
    }
    return _document((await tx.execute(_INSERT_NUMBERED, params)).one())


@traced
async def by_source(tx: Tx, kind: DocumentKind, source_event_id: str) -> Document | None:
    query = select(document).where(document.c.kind == kind.value, document.c.source_event_id == source_event_id)
    row = (await tx.execute(query)).one_or_none()
    return _document(row) if row is not None else None


@traced
async def get(tx: Tx, org_id: str, document_id: str) -> Document | None:
    query = select(document).where(document.c.org_id == org_id, document.c.id == document_id)
    row = (await tx.execute(query)).one_or_none()
    return _document(row) if row is not None else None


@traced
async def first_of_kind(tx: Tx, org_id: str, order_id: str, kind: DocumentKind) -> Document | None:
    query = (
        select(document)
        .where(document.c.org_id == org_id, document.c.order_id == order_id, document.c.kind == kind.value)
        .order_by(document.c.number)
        .limit(1)
    )
    row = (await tx.execute(query)).one_or_none()
    return _document(row) if row is not None else None


@traced
async def list_for_order(tx: Tx, org_id: str, order_id: str) -> list[Document]:
    query = (
        select(document)
        .where(document.c.org_id == org_id, document.c.order_id == order_id)
        .order_by(document.c.kind, document.c.number)
    )
    return [_document(row) for row in await tx.execute(query)]


@traced
async def move_state(tx: Tx, current: Document, target: DocumentState, **values: Any) -> Document | None:
    """Conditional on the state read: None when another worker moved it first."""
    statement = (
        update(document)
        .where(document.c.id == current.id, document.c.state == current.state.value)
        .values(state=target.value, updated_at=text("now()"), **values)
        .returning(document)
    )
    row = (await tx.execute(statement)).one_or_none()
    return _document(row) if row is not None else None


async def order_exists(tx: Tx, org_id: str, order_id: str) -> bool:
    return await orders_api.order_exists(tx, org_id, order_id)
