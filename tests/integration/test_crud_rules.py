"""The CRUD engine's rules: `validate` runs before the transaction, so a slow check holds none open."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import event

from emporium.modules.notifications.providers import Notifiers, NotifierSettings, install, uninstall
from emporium.modules.notifications.resources import webhook_endpoint_crud
from emporium.modules.notifications.schemas import WebhookEndpointIn, WebhookEndpointUpdate
from emporium.platform.audit.entries import AuditContext
from emporium.platform.db.engine import Database
from emporium.platform.http.ssrf import SsrfGuard
from tests.support.identity import Tenant

APP_NAME = "ssrf-before-tx"


class TransactionCounter:
    """Open transactions of one engine, counted by SQLAlchemy's begin/commit/rollback events."""

    def __init__(self, db: Database) -> None:
        self.engine = db.engine.sync_engine
        self.open = 0
        self.handlers = {"begin": self._began, "commit": self._ended, "rollback": self._ended}
        for name, handler in self.handlers.items():
            event.listen(self.engine, name, handler)

    def _began(self, _conn: object) -> None:
        self.open += 1

    def _ended(self, _conn: object) -> None:
        self.open -= 1

    def close(self) -> None:
        for name, handler in self.handlers.items():
            event.remove(self.engine, name, handler)


@pytest.fixture
async def counted_db(database_url: str) -> AsyncIterator[tuple[Database, TransactionCounter]]:
    db = Database(database_url, application_name=APP_NAME)
    counter = TransactionCounter(db)
    yield db, counter
    counter.close()
    await db.dispose()


async def test_the_webhook_url_is_resolved_before_any_transaction_opens(
    counted_db: tuple[Database, TransactionCounter], tenant: Tenant, pg: asyncpg.Connection
) -> None:
    db, counter = counted_db
    seen: list[tuple[str, int, int]] = []  # (host, open transactions in this process, sessions in a transaction)

    async def resolver(host: str, port: int) -> list[str]:
        in_tx = await pg.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND xact_start IS NOT NULL", APP_NAME
        )
        seen.append((host, counter.open, int(in_tx)))
        return ["93.184.216.34"]  # a public address: the check passes

    notifiers = Notifiers(NotifierSettings(guard=SsrfGuard(resolver=resolver)))
    install(notifiers)
    principal = tenant.owner_principal
    audit = AuditContext.of(principal, "test", None, 200)
    try:
        body = WebhookEndpointIn.model_validate({"url": "https://a.hooks.test/in", "event_types": ["OrderCreated"]})
        row = await webhook_endpoint_crud.create(db, None, principal, audit, body)
        change = WebhookEndpointUpdate.model_validate({"url": "https://b.hooks.test/in"})
        updated = await webhook_endpoint_crud.update(db, None, principal, audit, row["id"], change, None)
    finally:
        uninstall(notifiers)
    assert updated["url"] == "https://b.hooks.test/in"
    assert seen == [("a.hooks.test", 0, 0), ("b.hooks.test", 0, 0)]
    assert counter.open == 0
