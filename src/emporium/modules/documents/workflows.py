"""Documents workflows: one outcome each; no transaction is held while rendering or uploading.

Issuing, per (consumer, event):

    tx1: inbox seen? -> done.  The document this event issued, or a new one: the (org, kind) counter
         bumped and the document inserted in one statement (`requested`).  commit
    tx2: `requested|rendering -> rendering`.  commit
    render the PDF and put it at its key (no transaction open; the key is derived, so a retry overwrites)
    tx3: `rendering -> stored` with hash and size, and the inbox row.  commit

A crash anywhere leaves the event undelivered for this consumer; its redelivery finds the document
by (kind, event id) and carries on from its state, so it keeps its number and no number is skipped.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from emporium.modules.documents import services as store
from emporium.modules.documents.domain import (
    Content,
    Document,
    DocumentKind,
    DocumentNotReady,
    DocumentState,
    LinkRefused,
    check_transition,
)
from emporium.modules.documents.providers import Documents, installed
from emporium.modules.documents.providers.pdf import render_pdf
from emporium.platform.db.engine import Database
from emporium.platform.db.transaction import transaction
from emporium.platform.errors import NotFound
from emporium.platform.events import inbox
from emporium.platform.events.subscriptions import Delivery
from emporium.platform.ids import new_id
from emporium.platform.telemetry.tracing import traced

S = DocumentState


@dataclass(frozen=True, slots=True)
class IssueRequest:
    kind: DocumentKind
    org_id: str
    order_id: str
    content: Content | None = None  # None: the order's invoice content, with `amendments`
    amendments: Mapping[str, Any] = dataclasses.field(default_factory=dict)


class InvoiceMissing(RuntimeError):
    """A credit note or packing slip came before the order's invoice: retried by the bus (order per aggregate
    normally prevents it; an order paid before documents existed ends in the dead letters, replayable)."""


def utcnow() -> datetime:
    return datetime.now(UTC)


@traced
async def issue_document(
    db: Database, delivery: Delivery, request: IssueRequest, documents: Documents | None = None
) -> Document | None:
    """Issue, render and store the document this event asks for; None when it was done before."""
    async with transaction(db) as tx:
        if await inbox.already_processed(tx, delivery.consumer, delivery.event.id):
            return None
        doc = await store.by_source(tx, request.kind, delivery.event.id)
        if doc is None:
            content = request.content
            if content is None:
                invoice = await store.first_of_kind(tx, request.org_id, request.order_id, DocumentKind.INVOICE)
                if invoice is None:
                    raise InvoiceMissing(f"no invoice yet for order {request.order_id}")
                content = dataclasses.replace(invoice.content, **request.amendments)
            doc = await store.insert_numbered(
                tx,
                document_id=new_id("doc"),
                org_id=request.org_id,
                kind=request.kind,
                order_id=request.order_id,
                source_event_id=delivery.event.id,
                content=content,
                issued_at=utcnow(),
            )
        await tx.commit()
    if doc.state in (S.STORED, S.VOIDED):  # done by an earlier attempt that stopped before its inbox row
        async with transaction(db) as tx:
            await inbox.record(tx, delivery.consumer, delivery.event.id)
            await tx.commit()
        return doc
    return await _render_and_store(db, doc, delivery, documents or installed())


async def _render_and_store(db: Database, doc: Document, delivery: Delivery, documents: Documents) -> Document:
    check_transition(doc.state, S.RENDERING)
    async with transaction(db) as tx:
        rendering = await store.move_state(tx, doc, S.RENDERING)
        await tx.commit()
    if rendering is None:
        raise RuntimeError(f"document {doc.id} changed state while being issued; the bus retries")
    body = await asyncio.to_thread(render_pdf, rendering)  # CPU work off the event loop
    stored = await documents.storage.put(rendering.key, body, "application/pdf")
    check_transition(S.RENDERING, S.STORED)
    async with transaction(db) as tx:
        done = await store.move_state(
            tx,
            rendering,
            S.STORED,
            content_sha256=stored.content_sha256,
            size_bytes=stored.size_bytes,
            stored_at=utcnow(),
        )
        if done is None:
            raise RuntimeError(f"document {doc.id} changed state while being stored; the bus retries")
        await inbox.record(tx, delivery.consumer, delivery.event.id)
        await tx.commit()
    return done


@traced
async def void_document(db: Database, org_id: str, document_id: str) -> Document:
    """Void a document: it keeps its number (numbering stays gap-free) and its file."""
    async with transaction(db) as tx:
        doc = await store.get(tx, org_id, document_id)
        if doc is None:
            raise NotFound(f"no document {document_id}")
        check_transition(doc.state, S.VOIDED)
        voided = await store.move_state(tx, doc, S.VOIDED, voided_at=utcnow())
        if voided is None:
            raise DocumentNotReady(f"document {document_id} changed state meanwhile; try again")
        await tx.commit()
    return voided


@traced
async def list_documents(db: Database, org_id: str, order_id: str) -> list[Document]:
    async with transaction(db) as tx:
        found = await store.list_for_order(tx, org_id, order_id)
        if not found and not await store.order_exists(tx, org_id, order_id):
            raise NotFound(f"no order {order_id}")
    return found


@traced
async def download_link(db: Database, org_id: str, document_id: str, documents: Documents | None = None) -> str:
    """A short-lived link to the document's PDF: presigned on S3, signed by the app on the filesystem."""
    async with transaction(db) as tx:
        doc = await store.get(tx, org_id, document_id)
    if doc is None:
        raise NotFound(f"no document {document_id}")
    if doc.stored_at is None:
        raise DocumentNotReady(f"document {document_id} is {doc.state.value}; try again shortly")
    registry = documents or installed()
    filename = f"{doc.display_number}.pdf"
    return await registry.storage.download_url(doc.key, filename, registry.settings.link_ttl_seconds)


@traced
async def read_linked_file(key: str, expires: int, signature: str, documents: Documents | None = None) -> bytes:
    """The file behind one of the app's own signed links (filesystem storage); refused when not valid."""
    files = (documents or installed()).files
    if files is None or not files.verify(key, expires, signature):
        raise LinkRefused("the link is expired, altered or not one of ours")
    body = await files.get(key)
    if body is None:
        raise NotFound("the file is not there")
    return body
