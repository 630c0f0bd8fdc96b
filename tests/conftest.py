"""Shared fixtures: a fresh migrated database per test session, the app, an HTTP client."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator, MutableMapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import structlog
from sqlalchemy import event

from emporium.bootstrap.app import create_app
from emporium.bootstrap.runtime import Runtime, open_runtime
from emporium.config import Config
from emporium.modules.catalog.resources import POSTGRES_CATALOG, Catalog, init_mongo_indexes, open_catalog
from emporium.modules.reporting.migrate import upgrade as upgrade_reporting
from emporium.platform.db.embedded import start_embedded_postgres
from emporium.platform.db.engine import Database, PoolSettings
from emporium.platform.db.migrate import upgrade
from emporium.platform.events.subscriptions import Subscriptions
from tests.services import IN_CI, ROOT, configured
from tests.support.bus import recording
from tests.support.databases import DatabaseServer
from tests.support.identity import (
    JWT_AUDIENCE,
    JWT_ISSUER,
    JWT_SECRET,
    METRICS_TOKEN,
    Tenant,
    make_tenant,
    operator_key,
)
from tests.support.mongo_server import MongoServer
from tests.support.payments import SANDBOX_WEBHOOK_SECRET, STRIPE_WEBHOOK_SECRET
from tests.support.postgres_server import pg_ctl


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    # The one exception: a test needing a server that cannot run on this machine says so with
    # `@pytest.mark.skip_allowed_in_ci(reason)` (today only SQL Server, tests/integration/test_reporting_mssql.py).
    allowed = item.get_closest_marker("skip_allowed_in_ci") is not None
    if IN_CI and report.skipped and not hasattr(report, "wasxfail") and not allowed:
        # Under CI every real service is present: a skip would hide an untested path.
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which is a failure: {report.longrepr}"
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]  # fixtures read it to keep evidence of a failure


class _UnhandledErrors:
    """A structlog processor that notes every last-resort 500 the request middleware logs (`unhandled_error`)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, logger: object, method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        if event.get("event") == "unhandled_error":
            self.seen.append(f"{event.get('method', '?')} {event.get('path', '?')}")
        return event


@pytest.fixture(scope="session")
def unhandled_errors() -> Iterator[_UnhandledErrors]:
    recorder = _UnhandledErrors()
    processors = list(structlog.get_config()["processors"])
    structlog.configure(processors=[recorder, *processors])
    yield recorder
    structlog.configure(processors=processors)


@pytest.fixture(autouse=True)
def no_unhandled_error(request: pytest.FixtureRequest, unhandled_errors: _UnhandledErrors) -> Iterator[None]:
    """Over the whole suite, no request may end in an unhandled error (a 500) unless the test provokes one on
    purpose (`@pytest.mark.provokes_500`): bad input must be a 4xx, however a test happened to send it."""
    processors = structlog.get_config()["processors"]
    if unhandled_errors not in processors:  # a test that configured logging itself replaced the chain
        structlog.configure(processors=[unhandled_errors, *processors])
    before = len(unhandled_errors.seen)
    yield
    new = unhandled_errors.seen[before:]
    if new and request.node.get_closest_marker("provokes_500") is None:
        pytest.fail(f"the app logged unhandled errors (500s) during this test: {new}", pytrace=False)


@pytest.fixture(scope="session")
def database_server() -> Iterator[DatabaseServer]:
    url = configured("TEST_DATABASE_URL")
    if url is not None:
        yield DatabaseServer(url)
        return
    # Without a configured server the suite starts its own embedded PostgreSQL in a directory of its own,
    # stopped and removed at the end: a run leaves nothing behind (a cluster is ~135 MB).
    ROOT.joinpath(".data").mkdir(exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="test-", dir=ROOT / ".data"))
    try:
        yield DatabaseServer(start_embedded_postgres(data_dir, database="postgres"))
    finally:
        with contextlib.suppress(Exception):  # already stopped: nothing to stop
            pg_ctl((data_dir / "postgres").resolve(), "-m", "fast", "stop")
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
async def database_url(database_server: DatabaseServer) -> AsyncIterator[str]:
    """A database created for this session and migrated to head; dropped afterwards."""
    name = f"emporium_test_{secrets.token_hex(4)}"
    url = await database_server.create_database(name)
    await upgrade(url)
    await upgrade_reporting(url)  # the reporting store's default: the same PostgreSQL, schema `reporting`
    yield url
    await database_server.drop_database(name)


@pytest.fixture(scope="session")
def config() -> Config:
    return Config(
        log_format="json",
        metrics_token=METRICS_TOKEN,
        jwt_algorithms=("HS256",),
        jwt_secret=JWT_SECRET,
        jwt_issuer=JWT_ISSUER,
        jwt_audience=JWT_AUDIENCE,
        # Event tests start their own dispatchers; the shared app must not take their events.
        events_dispatch=False,
        # ...so its outbox only grows, and past OUTBOX_SHED_AGE (5 min: a slow run's second half) it would shed
        # browsing as a real backlog. Backlog shedding has its own tests, with their own thresholds.
        outbox_shed_age=86_400,
        outbox_stall_seconds=86_400,
        webhooks_deliver=False,  # notification tests drive the webhook delivery worker themselves
        cron_enabled=False,
        # 200 concurrent buyers share one pool of 10: they should queue for a connection, not get 503.
        db_pool_timeout=60,
        # Concurrency tests fire thousands of requests with one key: the limits have their own tests.
        rate_limit_per_key=1_000_000,
        rate_limit_per_org=1_000_000,
        sandbox_webhook_secret=SANDBOX_WEBHOOK_SECRET,
        stripe_webhook_secret=STRIPE_WEBHOOK_SECRET,
    )


@pytest.fixture(scope="session")
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


@pytest.fixture(scope="session")
async def runtime(config: Config, database_url: str) -> AsyncIterator[Runtime]:
    async with open_runtime(config, database_url) as rt:
        yield rt


@pytest.fixture(scope="session")
async def app_client(config: Config, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    hosted = Subscriptions([recording()])  # so the dead-letter admin API can replay a test consumer
    app = create_app(lambda: open_runtime(replace(config), database_url, subscriptions=hosted), config)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://emporium.test") as client:
            yield client


@pytest.fixture(scope="session")
async def tenant(db: Database) -> Tenant:
    """Org A: a member of each people role (JWT), an owner key and a storefront key."""
    return await make_tenant(db, "Shop A")


@pytest.fixture(scope="session")
async def other_tenant(db: Database) -> Tenant:
    """Org B: used to prove another org's ids answer 404."""
    return await make_tenant(db, "Shop B")


@pytest.fixture
async def logged_db(database_url: str) -> AsyncIterator[tuple[Database, list[str]]]:
    """A database of one pooled connection whose simple queries are recorded: asyncpg logs its BEGIN (not its
    COMMIT); a statement sent alone (a transaction of one statement) is not one."""
    database = Database(database_url, PoolSettings(size=1))
    queries: list[str] = []

    def log_queries(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection._connection.add_query_logger(lambda logged: queries.append(logged.query))

    event.listen(database.engine.sync_engine, "connect", log_queries)
    yield database, queries
    await database.dispose()


@pytest.fixture
async def pg(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A raw connection for assertions that must bypass the application."""
    conn = await asyncpg.connect(database_url)
    yield conn
    await asyncio.wait_for(conn.close(), 5)


# --- the catalog on MongoDB (decision 026): the catalog's tests run once per store ------------------


@pytest.fixture(scope="session")
def mongo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MongoServer]:
    """SecantusDB (a MongoDB-wire server, a dev dependency), started for the session; never skipped."""
    server = MongoServer(tmp_path_factory.mktemp("secantus") / "secantus.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
async def mongo_catalog_url(mongo_server: MongoServer) -> str:
    """A database of its own on the server, with the indexes `emporium catalog mongo-init` creates."""
    url = f"{mongo_server.url}/catalog_{secrets.token_hex(4)}"
    await init_mongo_indexes(url)
    return url


@pytest.fixture(scope="session")
async def mongo_catalog(mongo_catalog_url: str) -> AsyncIterator[Catalog]:
    async with open_catalog(mongo_catalog_url) as catalog:
        yield catalog


@pytest.fixture(scope="session", params=["postgres", "mongodb"])
def catalog_store(request: pytest.FixtureRequest) -> str:
    """Which store the catalog's tests run on: a test that asks for it (or for `catalog`) runs on both."""
    return str(request.param)


@pytest.fixture(scope="session")
def catalog(catalog_store: str, mongo_catalog: Catalog) -> Catalog:
    return mongo_catalog if catalog_store == "mongodb" else POSTGRES_CATALOG


@pytest.fixture(scope="session")
async def mongo_app_client(
    config: Config, database_url: str, mongo_catalog_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its catalog on MongoDB (CATALOG_DATABASE_URL), on the session's PostgreSQL for the rest."""
    mongo_config = replace(config, catalog_database_url=mongo_catalog_url)
    app = create_app(lambda: open_runtime(replace(mongo_config), database_url), mongo_config)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://emporium.test") as client:
            yield client


@pytest.fixture(scope="session")
async def mongo_tenant(db: Database) -> Tenant:
    """Org M: the org the MongoDB runs of the catalog's tests use (its SKUs never meet org A's)."""
    return await make_tenant(db, "Shop M")


@pytest.fixture(scope="session")
async def operator(db: Database) -> str:
    """A platform operator's key (decision 035)."""
    return await operator_key(db)
