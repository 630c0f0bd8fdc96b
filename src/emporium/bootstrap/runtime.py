"""Wiring: the long-lived resources of one worker process, opened in order and
closed in reverse order of creation.

`main.py` reads the environment; this module turns a `Config` (plus the
database URL the serving process resolved) into live clients.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from redis.asyncio import Redis

from emporium.bootstrap import bus
from emporium.bootstrap.authorization import role_permissions
from emporium.bootstrap.modules import INSTALLED
from emporium.bootstrap.resources import open_module_resources
from emporium.bootstrap.schedule import scheduled_jobs
from emporium.config import Config
from emporium.modules.catalog.resources import Catalog
from emporium.modules.documents import providers as documents
from emporium.modules.identity.authentication import IdentityAuthenticator
from emporium.modules.notifications import workflows as notifications
from emporium.modules.notifications.jobs import WebhookDeliveryWorker
from emporium.modules.oversight import workflows as oversight
from emporium.modules.payments import workflows as payments
from emporium.platform.auth.cache import PrincipalCache
from emporium.platform.auth.jwt import JwtSettings, JwtVerifier
from emporium.platform.cache import MemoryCache, RedisCache, VersionedCache
from emporium.platform.cron import Scheduler
from emporium.platform.db.engine import Database, PoolSettings
from emporium.platform.db.migrate import head_revision
from emporium.platform.events.backlog import BacklogSampler, BacklogSettings
from emporium.platform.events.broker import Broker, BrokerSettings, JetStreamForwarder
from emporium.platform.events.dispatcher import Dispatcher, DispatchSettings
from emporium.platform.events.retry import RetryPolicy
from emporium.platform.events.subscriptions import Subscriptions
from emporium.platform.flags import FlagCache
from emporium.platform.flags import install as install_flags
from emporium.platform.flags import uninstall as uninstall_flags
from emporium.platform.manifest import ModuleSettings
from emporium.platform.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from emporium.platform.telemetry.tracing import configure_tracing, instrument_engine, instrument_libraries


@dataclass(frozen=True, slots=True)
class Runtime:
    config: Config
    db: Database
    expected_revision: str | None
    principal_cache: PrincipalCache
    authenticator: IdentityAuthenticator
    jwt_verifier: JwtVerifier | None
    cache: VersionedCache
    subscriptions: Subscriptions
    dispatcher: Dispatcher | None
    rate_limiter: RateLimiter
    backlog: BacklogSampler
    payment_providers: payments.Providers
    notifiers: notifications.Notifiers
    webhook_worker: WebhookDeliveryWorker | None
    module_settings: ModuleSettings  # what the manifests declare, read from `config` once
    documents: documents.Documents
    catalog: Catalog  # products and categories on the store CATALOG_DATABASE_URL chose (decision 026)
    flags: FlagCache


def backlog_settings_for(config: Config) -> BacklogSettings:
    return BacklogSettings(
        shed_threshold=config.outbox_shed_threshold,
        shed_age_seconds=config.outbox_shed_age,
        stall_seconds=config.outbox_stall_seconds,
        danger_threshold=config.outbox_danger_threshold,
    )


def dispatch_settings_for(config: Config) -> DispatchSettings:
    return DispatchSettings(
        batch_size=config.events_batch_size,
        concurrency=config.events_concurrency,
        lease_seconds=config.events_lease,
        poll_interval=config.events_poll_interval,
        stop_timeout=max(1.0, config.shutdown_timeout - 1),
        retry=RetryPolicy(config.events_max_attempts, config.events_retry_base, config.events_retry_max),
    )


@asynccontextmanager
async def open_broker(config: Config, settings: BrokerSettings | None = None) -> AsyncIterator[Broker | None]:
    """The NATS connection when BROKER_URL is set (closed on exit), else None."""
    if not config.broker_url:
        yield None
        return
    broker = await Broker.connect(settings or BrokerSettings(config.broker_url))
    try:
        yield broker
    finally:
        await broker.close()


def jwt_verifier_for(config: Config) -> JwtVerifier | None:
    if not config.jwt_algorithms:
        return None
    return JwtVerifier(
        JwtSettings(
            algorithms=config.jwt_algorithms,
            issuer=config.jwt_issuer or "",
            audience=config.jwt_audience or "",
            leeway_seconds=config.jwt_leeway,
            user_claim=config.jwt_user_claim,
            org_claim=config.jwt_org_claim,
            secret=config.jwt_secret,
            jwks=config.jwt_jwks,
        )
    )


def open_flags(config: Config, db: Database) -> FlagCache:
    """The feature flag cache: followed across replicas through Redis when REDIS_URL is set."""
    return FlagCache(lambda: oversight.flag_settings(db), redis_url=config.redis_url)


@asynccontextmanager
async def open_runtime(
    config: Config, database_url: str, *, subscriptions: Subscriptions | None = None
) -> AsyncIterator[Runtime]:
    """`subscriptions`: the ones this process hosts (default: every module's)."""
    async with AsyncExitStack() as stack:
        configure_tracing(config.service_name, config.otlp_endpoint)
        instrument_libraries()
        db = Database(database_url, PoolSettings(size=config.db_pool_size, timeout=config.db_pool_timeout))
        if config.trace_sql:
            instrument_engine(db.engine)
        stack.push_async_callback(db.dispose)
        principals = PrincipalCache()
        # One Redis client for the cache, the rate limiter and the cron claims (closed last of the three).
        redis_client = (
            Redis.from_url(config.redis_url, socket_timeout=0.25, socket_connect_timeout=0.25, retry_on_timeout=False)
            if config.redis_url
            else None
        )
        if redis_client is not None:
            stack.push_async_callback(redis_client.aclose)
        cache: VersionedCache = RedisCache(redis_client) if redis_client is not None else MemoryCache()
        resources = await stack.enter_async_context(open_module_resources(config, db))
        flags = open_flags(config, db)
        await flags.start()
        install_flags(flags)  # `platform.flags.enabled` reads this process's snapshot
        stack.push_async_callback(flags.stop)
        stack.callback(uninstall_flags, flags)
        hosted = bus.subscriptions() if subscriptions is None else subscriptions
        dispatcher = None
        if config.events_dispatch:
            # With a broker the in-process dispatcher only forwards; subscribers run from the broker.
            broker = await stack.enter_async_context(open_broker(config))
            forwarder = JetStreamForwarder(broker) if broker else None
            dispatcher = Dispatcher(db, hosted, dispatch_settings_for(config), forwarder=forwarder)
            dispatcher.start()
            stack.push_async_callback(dispatcher.stop)  # stopped before the pool closes
        limiter: RateLimiter = RedisRateLimiter(redis_client) if redis_client else MemoryRateLimiter()
        backlog = BacklogSampler(db, settings=backlog_settings_for(config))
        backlog.start()
        stack.push_async_callback(backlog.stop)
        if config.cron_enabled:
            scheduler = Scheduler(db, scheduled_jobs(config, db), redis=redis_client)
            scheduler.start()
            stack.push_async_callback(scheduler.stop)  # stopped at a safe point, before the pool closes
        yield Runtime(
            config=config,
            db=db,
            expected_revision=head_revision(),
            principal_cache=principals,
            authenticator=IdentityAuthenticator(db, principals, role_permissions()),
            jwt_verifier=jwt_verifier_for(config),
            cache=cache,
            subscriptions=hosted,
            dispatcher=dispatcher,
            payment_providers=resources.payment_providers,
            rate_limiter=limiter,
            backlog=backlog,
            notifiers=resources.notifiers,
            webhook_worker=resources.webhook_worker,
            module_settings=INSTALLED.settings(config),
            documents=resources.documents,
            catalog=resources.catalog,
            flags=flags,
        )
