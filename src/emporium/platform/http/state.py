"""Per-process resources a handler may reach, set on the app by its lifespan."""

from __future__ import annotations

from typing import Any

from starlette.requests import HTTPConnection

from emporium.platform.auth.cache import PrincipalCache
from emporium.platform.cache import VersionedCache
from emporium.platform.db.engine import Database
from emporium.platform.errors import Unavailable


def database_of(request: HTTPConnection) -> Database:
    db = getattr(request.app.state, "database", None)
    if not isinstance(db, Database):
        raise Unavailable("the service is starting or stopping")
    return db


def principal_cache_of(request: HTTPConnection) -> PrincipalCache:
    cache = getattr(request.app.state, "principal_cache", None)
    if not isinstance(cache, PrincipalCache):
        raise Unavailable("the service is starting or stopping")
    return cache


def runtime_setting(request: HTTPConnection, name: str) -> Any:
    """A value of the running process's configuration (e.g. `order_reservation_ttl`)."""
    runtime = getattr(request.app.state, "runtime", None)
    if runtime is None:
        raise Unavailable("the service is starting or stopping")
    return getattr(runtime.config, name)


def cache_of(request: HTTPConnection) -> VersionedCache | None:
    cache = getattr(request.app.state, "cache", None)
    return cache if cache is not None else None
