"""Issuing invoices in a real `emporium worker` process, SIGKILLed while it issues:
after a restart every paid order has exactly one invoice, numbered 1..N with no gap and no duplicate,
each stored with the hash of its file.

The test has its own database (a fresh one, migrated), so the session's backlog of other tests' events
does not reach this worker, and its own DATA_DIR (filesystem storage).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from emporium.modules.documents.domain import DocumentKind, storage_key
from emporium.modules.orders.events import EventLine, OrderPaid
from emporium.platform.db.engine import Database
from emporium.platform.db.migrate import upgrade
from emporium.platform.db.transaction import transaction
from emporium.platform.events.outbox import publish
from emporium.platform.ids import new_id
from tests.services import scaled
from tests.support.bus import wait_for
from tests.support.databases import DatabaseServer
from tests.support.workers import WorkerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.soak]

ORDERS = scaled(24, 200)
KILLS = scaled(2, 6)


@pytest.fixture
async def fresh_database(database_server: DatabaseServer) -> AsyncIterator[str]:
    name = f"emporium_docs_{secrets.token_hex(4)}"
    url = await database_server.create_database(name)
    await upgrade(url)
    yield url
    await database_server.drop_database(name)


async def _publish_paid_orders(url: str, org_id: str) -> None:
    db = Database(url)
    try:
        async with transaction(db) as tx:
            for n in range(ORDERS):
                line = EventLine(
                    sku=f"SKU-{n}", name="Thing", quantity=1, unit_price_minor=1000 + n, line_total_minor=1000 + n
                )
                event = OrderPaid(
                    order_id=new_id("ord"), order_number=5000 + n, payment_id=new_id("pay"),
                    customer_email="c@example.com", customer_name=None, customer_phone=None, currency="EUR",
                    subtotal_minor=line.line_total_minor, shipping_minor=0, total_minor=line.line_total_minor,
                    lines=[line],
                )  # fmt: skip
                await publish(tx, event, org_id=org_id)
            await tx.commit()
    finally:
        await db.dispose()


def _worker(url: str, data_dir: Path, log: Path) -> WorkerProcess:
    env = {
        "DATABASE_URL": url,
        "DATA_DIR": str(data_dir),
        "EVENTS_LEASE": "2",  # a killed worker's claims are taken over quickly
        "EVENTS_POLL_INTERVAL": "0.1",
        "EVENTS_CONCURRENCY": "8",
        "EVENTS_RETRY_BASE": "0.1",
        "WEBHOOKS_DELIVER": "false",
    }
    return WorkerProcess(env, log, args=("-m", "emporium.main", "worker"))


async def test_a_worker_killed_while_issuing_leaves_no_gap_and_no_duplicate(
    fresh_database: str, tmp_path: Path
) -> None:
    org_id = new_id("org")
    await _publish_paid_orders(fresh_database, org_id)
    pg = await asyncpg.connect(fresh_database)
    try:
        kills = 0
        while kills < KILLS:
            worker = _worker(fresh_database, tmp_path, tmp_path / f"worker-{kills}.log")

            async def mid_issue(worker: WorkerProcess = worker) -> bool:
                # A document numbered but not stored yet: the worker is between its transactions.
                busy = await pg.fetchval("SELECT count(*) FROM documents.document WHERE state <> 'stored'")
                return bool(busy) or worker.process.poll() is not None

            await wait_for(mid_issue, 60, "a document being issued")
            assert worker.process.poll() is None, worker.output()
            worker.kill()
            kills += 1
        stored_before = await pg.fetchval("SELECT count(*) FROM documents.document WHERE state = 'stored'")
        assert stored_before < ORDERS, "the kills came too late to interrupt anything"
        final = _worker(fresh_database, tmp_path, tmp_path / "worker-final.log")

        async def all_stored() -> bool:
            return bool(
                await pg.fetchval("SELECT count(*) = $1 FROM documents.document WHERE state = 'stored'", ORDERS)
            )

        await wait_for(all_stored, 90, f"{ORDERS} stored invoices")
        assert final.stop() == 0, final.output()
        rows = await pg.fetch(
            "SELECT kind, number, source_event_id, content_sha256, size_bytes, issued_at FROM documents.document "
            "WHERE org_id = $1 ORDER BY number",
            org_id,
        )
        assert [row["number"] for row in rows] == list(range(1, ORDERS + 1))  # no gap, no duplicate
        assert len({row["source_event_id"] for row in rows}) == ORDERS  # one invoice per paid order
        assert await pg.fetchval("SELECT last_number FROM documents.number_counter WHERE org_id = $1", org_id) == ORDERS
        for row in rows:
            path = tmp_path / "documents" / storage_key(org_id, row["issued_at"], DocumentKind.INVOICE, row["number"])
            body = path.read_bytes()
            assert body.startswith(b"%PDF-") and len(body) == row["size_bytes"]
            assert hashlib.sha256(body).hexdigest() == row["content_sha256"]
    finally:
        await pg.close()
