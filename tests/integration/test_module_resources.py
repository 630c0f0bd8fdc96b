"""`open_module_resources` (decision 037): every entry point enters it, so what it installs is what each gets."""

from __future__ import annotations

from dataclasses import replace

from emporium.bootstrap.resources import open_module_resources
from emporium.config import Config
from emporium.modules.documents import providers as documents
from emporium.modules.notifications import providers as notifications
from emporium.modules.payments import providers as payments
from emporium.modules.reporting import workflows as reporting
from emporium.platform.db.engine import Database


async def test_every_module_resource_is_installed_while_open_and_removed_after(config: Config, db: Database) -> None:
    # WEBHOOKS_DELIVER on, as in production: a short command still must not start the delivery loop.
    wanted = replace(config, webhooks_deliver=True, stripe_api_key="sk_test_resources")
    before = (payments.installed(), notifications.installed(), documents.installed())
    async with open_module_resources(wanted, db, deliver_webhooks=False) as opened:
        # What workflows called without an explicit registry use: jobs, subscribers, the CLI's replays.
        assert payments.installed() is opened.payment_providers
        assert "stripe" in opened.payment_providers.names()
        assert notifications.installed() is opened.notifiers
        assert documents.installed() is opened.documents
        assert reporting.installed_store() is opened.reporting_store is db  # no REPORTING_DATABASE_URL: the main one
        assert opened.webhook_worker is None
    assert (payments.installed(), notifications.installed(), documents.installed()) == before
