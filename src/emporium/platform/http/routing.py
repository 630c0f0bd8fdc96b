"""Routes added to the application flat, not as included routers.

FastAPI (0.16x) keeps each `include_router` as a nested router and matches a request by asking every
included router, which scans all its routes, then scanning the chosen one again: about 70 route matches
per request here, a third of a cached product GET's CPU. The same route objects listed directly on the
application are matched once each, in order, and stop at the first full match.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, FastAPI
from starlette.routing import BaseRoute


def _routes(routes: list[BaseRoute]) -> Iterator[BaseRoute]:
    for route in routes:
        nested = getattr(route, "original_router", None)  # an included router (FastAPI's `_IncludedRouter`)
        prefix = getattr(getattr(route, "include_context", None), "prefix", "")
        if isinstance(nested, APIRouter) and not prefix:
            yield from _routes(nested.routes)
        else:
            yield route


def include_flat(app: FastAPI, router: APIRouter) -> None:
    """`app.include_router(router)` (no prefix, tags or dependencies added at inclusion), with its routes
    and those of the routers it includes listed on the application itself."""
    app.router.routes.extend(_routes(router.routes))
