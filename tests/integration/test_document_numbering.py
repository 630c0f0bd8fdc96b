"""Gap-free numbering under concurrency: 50 orders paid at once get invoices 1..50, an issue that rolls back
gives its number back (the counter is bumped in the transaction that inserts the document), and a voided
document keeps its number."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest

from emporium.modules.documents import providers, workflows
from emporium.modules.documents import services as document_store
from emporium.modules.documents.domain import Content, Document, DocumentKind, DocumentState, Line
from emporium.modules.documents.workflows import IssueRequest
from emporium.platform.db.engine import Database
from emporium.platform.db.transaction import transaction
from emporium.platform.errors import InvalidTransition, NotFound
from emporium.platform.events.contracts import Envelope
from emporium.platform.events.subscriptions import Delivery
from emporium.platform.ids import new_id
from tests.support.catalog import make_product
from tests.support.documents import dispatch_until
from tests.support.identity import make_tenant
from tests.support.orders import order_body, place

ORDERS = 50


async def test_fifty_orders_paid_at_once_get_invoices_numbered_one_to_fifty(
    app_client: httpx.AsyncClient, db: Database, pg: asyncpg.Connection
) -> None:
    shop = await make_tenant(db, "Busy shop")
    product = await make_product(db, shop, price=1200, on_hand=ORDERS)
    placed = await asyncio.gather(
        *(place(app_client, shop.storefront_key, order_body((str(product["sku"]), 1))) for _ in range(ORDERS))
    )
    assert [answer.status_code for answer in placed] == [201] * ORDERS
    order_ids = {answer.json()["id"] for answer in placed}

    async def all_invoiced() -> bool:
        count = await pg.fetchval(
            "SELECT count(*) FROM documents.document WHERE org_id = $1 AND state = 'stored'", shop.org_id
        )
        return bool(count == ORDERS)

    await dispatch_until(db, all_invoiced, f"{ORDERS} invoices", concurrency=16)
    rows = await pg.fetch(
        "SELECT number, order_id FROM documents.document WHERE org_id = $1 AND kind = 'invoice' ORDER BY number",
        shop.org_id,
    )
    assert [row["number"] for row in rows] == list(range(1, ORDERS + 1))
    assert {row["order_id"] for row in rows} == order_ids  # one invoice per order


async def test_a_rolled_back_issue_gives_its_number_back(db: Database) -> None:
    org_id = new_id("org")
    content = Content(1, "EUR", "c@example.com", None, (Line("S", "Thing", 1, 100, 100),), 100, 0, 100)

    async def issue(commit: bool) -> int:
        async with transaction(db) as tx:
            doc = await document_store.insert_numbered(
                tx, document_id=new_id("doc"), org_id=org_id, kind=DocumentKind.CREDIT_NOTE, order_id=new_id("ord"),
                source_event_id=new_id("evt"), content=content, issued_at=datetime.now(UTC),
            )  # fmt: skip
            if commit:
                await tx.commit()
        return doc.number

    assert await issue(commit=True) == 1
    assert await issue(commit=False) == 2  # rolled back ...
    assert await issue(commit=True) == 2  # ... so the next one takes 2 again
    assert await issue(commit=True) == 3


async def test_a_voided_document_keeps_its_number_and_cannot_come_back(db: Database, tmp_path: Path) -> None:
    registry = providers.Documents(providers.DocumentSettings(root=tmp_path))
    org_id = new_id("org")
    content = Content(9, "EUR", "c@example.com", None, (Line("S", "Thing", 1, 100, 100),), 100, 0, 100)

    async def issue() -> Document:
        envelope = Envelope(
            new_id("evt"), "orders.order_paid", 2, "order", new_id("ord"), org_id, {}, datetime.now(UTC)
        )
        request = IssueRequest(DocumentKind.INVOICE, org_id, envelope.aggregate_id, content=content)
        doc = await workflows.issue_document(db, Delivery(envelope, "documents.invoices"), request, registry)
        assert doc is not None
        return doc

    first = await issue()
    voided = await workflows.void_document(db, org_id, first.id)
    assert (voided.state, voided.number, voided.content_sha256) == (DocumentState.VOIDED, 1, first.content_sha256)
    assert voided.voided_at is not None
    with pytest.raises(InvalidTransition):
        await workflows.void_document(db, org_id, first.id)
    with pytest.raises(NotFound):
        await workflows.void_document(db, new_id("org"), first.id)  # another org's document
    assert (await issue()).number == 2  # the voided number is not reused
