"""Per-process resources a handler may reach, set on the app by its lifespan."""

from __future__ import annotations

from typing import TypeVar

from starlette.requests import HTTPConnection

from emporium.platform.auth.cache import PrincipalCache
from emporium.platform.cache import VersionedCache
from emporium.platform.db.engine import Database
from emporium.platform.errors import Unavailable
from emporium.platform.manifest import ModuleSettings

S = TypeVar("S")


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


def settings_of(request: HTTPConnection, kind: type[S]) -> S:
    """The settings dataclass `kind` a module's manifest declares, as the runtime built it at start-up."""
    settings = getattr(request.app.state, "module_settings", None)
    if not isinstance(settings, ModuleSettings):
        raise Unavailable("the service is starting or stopping")
    return settings.get(kind)


def cache_of(request: HTTPConnection) -> VersionedCache | None:
    cache = getattr(request.app.state, "cache", None)
    return cache if cache is not None else None
