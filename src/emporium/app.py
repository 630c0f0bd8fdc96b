"""`create_app`: the FastAPI application with every module's routes and the edge middleware.

Building the app opens nothing: resources are opened by the lifespan (through
`open_runtime`), so the OpenAPI document can be generated without a database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI, Request

from emporium import __version__
from emporium.platform.errors import Unavailable
from emporium.platform.health import Readiness, check_readiness
from emporium.platform.http.health import health_router
from emporium.platform.http.middleware import RequestContextMiddleware
from emporium.platform.http.problems import install_problem_handlers
from emporium.runtime import Runtime

RuntimeOpener = Callable[[], AbstractAsyncContextManager[Runtime]]


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime | None = getattr(request.app.state, "runtime", None)
    if runtime is None:
        raise Unavailable("the service is starting or stopping")
    return runtime


def create_app(open_runtime: RuntimeOpener | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if open_runtime is None:
            yield
            return
        async with open_runtime() as runtime:
            app.state.runtime = runtime
            try:
                yield
            finally:
                app.state.runtime = None

    app = FastAPI(
        title="Emporium",
        version=__version__,
        summary="Commerce backend: catalog, orders, payments, notifications, identity.",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.runtime = None
    install_problem_handlers(app)
    app.add_middleware(RequestContextMiddleware)

    async def readiness() -> Readiness:
        runtime = app.state.runtime
        if runtime is None:
            return Readiness(False, "starting or stopping")
        return await check_readiness(runtime.db, runtime.expected_revision)

    app.include_router(health_router(readiness))
    return app
