"""The modules' process-wide resources, opened and closed in one place.

Every entry point that runs module code (the app's runtime, `emporium worker`,
the Lambda consumer, the CLI commands that run a module's workflows) enters
`open_module_resources` instead of picking openers one by one: an entry point
that forgot one (the Lambda consumer once ran the reporting subscribers with
no reporting store) cannot happen, because there is nothing to pick.
`tests/architecture/test_source_rules.py` checks that the openers (these
and the catalog's `open_catalog`) are called nowhere else.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace

from emporium.config import Config
from emporium.modules.catalog.resources import Catalog, open_catalog
from emporium.modules.documents import providers as documents
from emporium.modules.notifications import workflows as notifications
from emporium.modules.notifications.jobs import DeliverySettings, WebhookDeliveryWorker
from emporium.modules.notifications.providers.email import SmtpSettings
from emporium.modules.notifications.providers.sms import TwilioSettings
from emporium.modules.payments import workflows as payments
from emporium.modules.reporting import workflows as reporting
from emporium.modules.reporting.migrate import schema_map
from emporium.platform.db.engine import Database, PoolSettings
from emporium.platform.http.ssrf import SsrfGuard


@dataclass(frozen=True, slots=True)
class ModuleResources:
    """What `open_module_resources` opened, for the entry point to hand down."""

    payment_providers: payments.Providers  # also the default of workflows called without a registry (jobs)
    notifiers: notifications.Notifiers
    webhook_worker: WebhookDeliveryWorker | None  # running when WEBHOOKS_DELIVER and the caller allow it
    documents: documents.Documents
    reporting_store: Database  # the main database unless REPORTING_DATABASE_URL names another
    catalog: Catalog  # products and categories on the store CATALOG_DATABASE_URL chose (decision 026)


@asynccontextmanager
async def open_module_resources(
    config: Config, db: Database, *, deliver_webhooks: bool = True
) -> AsyncIterator[ModuleResources]:
    """Open every module's resource on `db`, closed in reverse order on exit.

    `deliver_webhooks=False`: a short-lived command must not start the webhook delivery loop (it would
    claim deliveries and abandon them when the command ends), whatever WEBHOOKS_DELIVER says.
    """
    if not deliver_webhooks:
        config = replace(config, webhooks_deliver=False)
    async with (
        open_payment_providers(config) as providers,
        open_catalog(config.catalog_database_url) as catalog,
        open_notifiers(config, db) as (notifiers, webhook_worker),
        open_documents(config) as document_store,
        open_reporting_store(config, db) as reporting_store,
    ):
        yield ModuleResources(
            payment_providers=providers,
            notifiers=notifiers,
            webhook_worker=webhook_worker,
            documents=document_store,
            reporting_store=reporting_store,
            catalog=catalog,
        )


def notifiers_for(config: Config) -> notifications.Notifiers:
    smtp = None
    if config.smtp_host:
        smtp = SmtpSettings(
            host=config.smtp_host,
            port=config.smtp_port,
            username=config.smtp_username,
            password=config.smtp_password,
            starttls=config.smtp_starttls,
            sender=config.email_from,
        )
    twilio = None
    if config.sms_provider == "twilio":
        twilio = TwilioSettings(  # load_config checked that the three are set
            account_sid=config.twilio_account_sid or "",
            auth_token=config.twilio_auth_token or "",
            sender=config.sms_from or "",
            api_base=config.twilio_api_base,
        )
    return notifications.Notifiers(
        notifications.NotifierSettings(
            smtp=smtp,
            email_from=config.email_from,
            twilio=twilio,
            email_hourly_cap=config.email_hourly_cap_per_org,
            sms_hourly_cap=config.sms_hourly_cap_per_org,
            webhook_timeout=config.webhook_timeout,
            webhook_concurrency=config.webhook_concurrency,
            guard=SsrfGuard.allowing(config.webhook_allowed_hosts),
        )
    )


def documents_for(config: Config) -> documents.Documents:
    s3 = None
    if config.documents_storage == "s3":
        s3 = documents.S3Settings(
            bucket=config.documents_s3_bucket or "",  # load_config checked it is set
            region=config.documents_s3_region,
            endpoint_url=config.documents_s3_endpoint_url,
            access_key_id=config.documents_s3_access_key_id,
            secret_access_key=config.documents_s3_secret_access_key,
            path_style=config.documents_s3_path_style,
        )
    return documents.Documents(
        documents.DocumentSettings(
            root=config.data_dir / "documents",
            s3=s3,
            link_ttl_seconds=config.documents_link_ttl,
            link_secret=config.documents_link_secret,
        )
    )


@asynccontextmanager
async def open_documents(config: Config) -> AsyncIterator[documents.Documents]:
    """Install the process's document storage (its S3 client opens on first use and closes here)."""
    registry = documents_for(config)
    documents.install(registry)
    try:
        yield registry
    finally:
        documents.uninstall(registry)
        await registry.close()


def delivery_settings_for(config: Config) -> DeliverySettings:
    return DeliverySettings(
        concurrency=config.webhook_concurrency,
        timeout=config.webhook_timeout,
        poll_interval=config.events_poll_interval,
        stop_timeout=max(1.0, config.shutdown_timeout - 1),
    )


@asynccontextmanager
async def open_notifiers(
    config: Config, db: Database
) -> AsyncIterator[tuple[notifications.Notifiers, WebhookDeliveryWorker | None]]:
    """Install the process's notification adapters and, with WEBHOOKS_DELIVER, run the webhook delivery worker."""
    notifiers = notifiers_for(config)
    notifications.install(notifiers)
    worker = None
    try:
        if config.webhooks_deliver:
            worker = WebhookDeliveryWorker(db, delivery_settings_for(config), notifiers=notifiers)
            worker.start()
        yield notifiers, worker
    finally:
        if worker is not None:
            await worker.stop()
        notifications.uninstall(notifiers)
        await notifiers.close()


@asynccontextmanager
async def open_reporting_store(config: Config, db: Database) -> AsyncIterator[Database]:
    """Install the reporting store: its own pool on REPORTING_DATABASE_URL, or else the main database's."""
    store = db
    if config.reporting_database_url:
        url = config.reporting_database_url
        pool = PoolSettings(size=max(2, config.db_pool_size // 2), timeout=config.db_pool_timeout)
        store = Database(url, pool, application_name="emporium-reporting", schema_translate_map=schema_map(url))
    reporting.install(store)
    try:
        yield store
    finally:
        reporting.uninstall(store)
        if store is not db:
            await store.dispose()


def payment_providers_for(config: Config) -> payments.Providers:
    return payments.Providers(
        payments.ProviderSettings(
            stripe_api_key=config.stripe_api_key,
            stripe_api_base=config.stripe_api_base,
            stripe_webhook_secret=config.stripe_webhook_secret,
            sandbox_webhook_secret=config.sandbox_webhook_secret,
        )
    )


@asynccontextmanager
async def open_payment_providers(config: Config) -> AsyncIterator[payments.Providers]:
    """Install the process's payment providers: the registry of workflows called without one (orchestrators,
    the recovery jobs in `emporium cron` and `emporium orders recover`), closed on exit."""
    providers = payment_providers_for(config)
    payments.install(providers)
    try:
        yield providers
    finally:
        payments.uninstall(providers)
        await providers.close()
