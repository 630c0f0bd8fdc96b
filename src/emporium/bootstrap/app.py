"""`create_app`: the FastAPI application with every module's routes and the edge middleware.

Building the app opens nothing: resources are opened by the lifespan (through
`open_runtime`), so the OpenAPI document can be generated without a database.
Middleware, outermost first: request context (id, access log, last-resort
500) -> authentication (resolves the principal, never rejects) -> audit of
failed writes -> routes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from starlette.types import Scope

from emporium import __version__
from emporium.bootstrap.modules import INSTALLED
from emporium.bootstrap.runtime import Runtime
from emporium.config import Config, metrics_directory
from emporium.console import mount_console
from emporium.modules.oversight import workflows as oversight
from emporium.modules.reporting import workflows as reporting
from emporium.platform.audit.middleware import AuditFailuresMiddleware
from emporium.platform.auth.gate import GATED_MARK
from emporium.platform.auth.jwt import JwtVerifier
from emporium.platform.auth.middleware import AuthenticationMiddleware, Authenticator
from emporium.platform.db.engine import Database
from emporium.platform.events.backlog import Pressure, dead_letters
from emporium.platform.events.handlers import SUBSCRIPTIONS_KEY
from emporium.platform.health import Readiness, check_readiness
from emporium.platform.http.docs import mount_docs
from emporium.platform.http.health import health_router
from emporium.platform.http.input_policy import BodyPolicyMiddleware, InputPolicyMiddleware
from emporium.platform.http.limits import LimitsMiddleware
from emporium.platform.http.metrics import metrics_router
from emporium.platform.http.middleware import RequestContextMiddleware
from emporium.platform.http.openapi import truthful_openapi
from emporium.platform.http.problems import install_problem_handlers
from emporium.platform.http.ratelimit import RateLimitMiddleware, RateLimits
from emporium.platform.http.routing import include_flat
from emporium.platform.http.shedding import LoadSheddingMiddleware, ShedSettings
from emporium.platform.http.tracing import RequestSpanMiddleware
from emporium.platform.manifest import Modules
from emporium.platform.ratelimit import Bucket, RateLimiter
from emporium.platform.requestlog import RequestLogBuffer, RequestLogWriter
from emporium.platform.telemetry.metrics import DB_POOL_IN_USE, DEAD_LETTERS, OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE

RuntimeOpener = Callable[[], AbstractAsyncContextManager[Runtime]]


def _runtime(scope: Scope) -> Runtime | None:
    runtime = getattr(scope["app"].state, "runtime", None)
    return runtime if isinstance(runtime, Runtime) else None


def _authenticator(scope: Scope) -> Authenticator | None:
    runtime = _runtime(scope)
    return runtime.authenticator if runtime else None


def _jwt_verifier(scope: Scope) -> JwtVerifier | None:
    runtime = _runtime(scope)
    return runtime.jwt_verifier if runtime else None


def _database(scope: Scope) -> Database | None:
    runtime = _runtime(scope)
    return runtime.db if runtime else None


def _mount_probes(app: FastAPI, metrics_token: str | None) -> None:
    """/livez and /readyz: public, for load balancers and orchestrators; /metrics for Prometheus, with its token."""

    async def readiness() -> Readiness:
        runtime = app.state.runtime
        if runtime is None:
            return Readiness(False, "starting or stopping")
        return await check_readiness(runtime.db, runtime.expected_revision)

    async def sample_gauges() -> None:
        runtime = app.state.runtime
        if runtime is None:
            return
        DB_POOL_IN_USE.set(runtime.db.connections_in_use())
        # The sampler's last reading: a scrape must not count the outbox (its cost grows with the backlog).
        OUTBOX_BACKLOG.set(runtime.backlog.reading.size)
        OUTBOX_OLDEST_AGE.set(runtime.backlog.reading.oldest_age_seconds)
        try:
            DEAD_LETTERS.set(await dead_letters(runtime.db))
            await reporting.sample_lag(reporting.installed_store())
        except Exception:  # the database is away: the scrape still answers, without this gauge
            return

    def multiprocess_directory() -> Path | None:
        runtime = app.state.runtime
        return metrics_directory(runtime.config) if runtime is not None else None

    app.include_router(health_router(readiness))
    app.include_router(metrics_router(sample_gauges, multiprocess_directory, metrics_token))


def _rate_limiter(scope: Scope) -> RateLimiter | None:
    runtime = _runtime(scope)
    return runtime.rate_limiter if runtime else None


def _backlog(app: FastAPI) -> Callable[[], Pressure]:
    def pressure() -> Pressure:
        runtime = getattr(app.state, "runtime", None)
        return runtime.backlog.pressure if isinstance(runtime, Runtime) else Pressure.NONE

    return pressure


def _mount_console(app: FastAPI, settings: Config) -> None:
    """The operations console (`/console`, not in the OpenAPI document): its own routes, not a module's API."""
    mount_console(app, settings)


def create_app(
    open_runtime: RuntimeOpener | None = None, config: Config | None = None, modules: Modules = INSTALLED
) -> FastAPI:
    """`config` sets the edge limits (body size, timeout, shedding, rate limits); resources come from the runtime.

    `modules`: the manifests whose routes are served and whose route classes shed load.
    """
    settings = config or Config()
    request_log = RequestLogBuffer(settings.api_log_buffer)  # filled on the request path, drained by the writer

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if open_runtime is None:
            yield
            return
        async with open_runtime() as runtime:
            writer = RequestLogWriter(request_log, lambda records: oversight.record_api_requests(runtime.db, records))
            writer.start()
            app.state.runtime = runtime
            app.state.database = runtime.db
            app.state.principal_cache = runtime.principal_cache
            app.state.cache = runtime.cache
            app.state.payment_providers = runtime.payment_providers
            app.state.module_settings = runtime.module_settings
            setattr(app.state, SUBSCRIPTIONS_KEY, runtime.subscriptions)
            try:
                yield
            finally:
                await writer.stop()  # what the last requests left in the buffer, before the pool closes
                app.state.runtime = None
                app.state.database = None
                app.state.cache = None
                app.state.payment_providers = None
                app.state.module_settings = None
                setattr(app.state, SUBSCRIPTIONS_KEY, None)

    app = FastAPI(
        title="Emporium",
        version=__version__,
        summary="Commerce backend: catalog, orders, payments, notifications, identity.",
        lifespan=lifespan,
        docs_url=None,  # served by mount_docs from packaged assets, not from a CDN
        redoc_url=None,
        openapi_url="/openapi.json",
        # The request's span is RequestSpanMiddleware's (decisions 011, 020, 040): FastAPI's own would be a
        # second server span per request (and its cost on every request, exporter or not).
        telemetry={"tracing": False},
    )
    app.state.runtime = None
    app.state.database = None
    app.state.request_log = request_log
    install_problem_handlers(app)
    # Outermost last: context -> limits -> input policy (path, query, headers) -> shedding -> authentication
    # -> body policy -> rate limits -> audit -> routes.
    app.add_middleware(AuditFailuresMiddleware, database=_database)
    app.add_middleware(
        RateLimitMiddleware,
        limiter=_rate_limiter,
        limits=RateLimits(
            per_actor=Bucket(settings.rate_limit_per_key, max(1, int(settings.rate_limit_per_key * 2))),
            per_org=Bucket(settings.rate_limit_per_org, max(1, int(settings.rate_limit_per_org * 2))),
        ),
    )
    app.add_middleware(BodyPolicyMiddleware)
    app.add_middleware(AuthenticationMiddleware, authenticator=_authenticator, jwt_verifier=_jwt_verifier)
    app.add_middleware(
        LoadSheddingMiddleware,
        settings=ShedSettings(
            max_concurrent=settings.shed_max_concurrent,
            adaptive=settings.shed_adaptive,
            latency_target_seconds=settings.shed_latency_target,
        ),
        pressure=_backlog(app),
        policy=modules.shed_policy(),
    )
    # Before authentication: a NUL in a credential or an id must not reach a database lookup.
    app.add_middleware(InputPolicyMiddleware)
    app.add_middleware(
        LimitsMiddleware, max_body_bytes=settings.max_body_bytes, timeout_seconds=settings.request_timeout
    )
    app.add_middleware(RequestContextMiddleware, request_log=request_log)
    # The request's span (and the incoming `traceparent`), outermost. Not FastAPIInstrumentor: it finds the
    # route for the span's name by matching the path against every route, on every request; the request
    # context names the span from the route the router matched.
    app.add_middleware(RequestSpanMiddleware, excluded_urls="livez,readyz,metrics")

    _mount_probes(app, settings.metrics_token)
    mount_docs(app)
    for router in modules.routers:
        include_flat(app, router)
    _mount_console(app, settings)
    app.openapi = lambda: truthful_openapi(app, GATED_MARK)  # type: ignore[method-assign]
    return app
