"""A module's manifest: everything it contributes to the application, declared in one place.

The platform defines the shape; each module fills one in (`modules/<m>/module.py`
exports `MANIFEST`), and the application builds its routes, tables, event bus,
cron jobs, authorization and load shedding from the list of manifests in
`emporium.bootstrap.modules`. Adding a module is one new package and one line
in that list; nothing here names a module.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Generic, TypeVar

from fastapi import APIRouter
from prometheus_client.metrics import MetricWrapperBase
from sqlalchemy import Table

from emporium.platform.auth.perms import EVERY_ROLE
from emporium.platform.cron import Job
from emporium.platform.db.engine import Database
from emporium.platform.events.contracts import Event
from emporium.platform.events.subscriptions import Subscription, Subscriptions
from emporium.platform.http.shedding import RouteClass, ShedPolicy

S = TypeVar("S")


@dataclass(frozen=True, slots=True)
class Jobs(Generic[S]):
    """A module's periodic jobs: `build(db, settings)` with the settings it declares.

    `settings` is a dataclass whose field names are settings of the process
    configuration (`Config`); the application fills it in (`settings_from`),
    so a module asks for exactly what it reads, typed.
    """

    settings: type[S]
    build: Callable[[Database, S], Sequence[Job]]


@dataclass(frozen=True, slots=True)
class Manifest:
    """What one module brings. Every part is optional except its name."""

    name: str
    # The PostgreSQL schema its tables live in, and those tables (on `platform.db.schema.metadata`).
    schema: str | None = None
    tables: tuple[Table, ...] = ()
    # Routers behind credentials (`GatedRoute`) and routes answering without them (method, path template).
    routers: tuple[APIRouter, ...] = ()
    public_routes: frozenset[tuple[str, str]] = frozenset()
    # Event contracts it publishes and its subscriptions (the consumer name starts with `name.`).
    events: tuple[type[Event], ...] = ()
    subscriptions: tuple[Subscription, ...] = ()
    jobs: Jobs[Any] | None = None
    # Settings dataclasses its handlers read (`platform.http.state.settings_of(request, Kind)`), built once.
    settings: tuple[type, ...] = ()
    # Each permission its endpoints check -> the role names holding it (`EVERY_ROLE` for all).
    permissions: Mapping[str, frozenset[str]] = field(default_factory=dict)
    metrics: tuple[MetricWrapperBase, ...] = ()
    # How load shedding classes its route prefixes (unlisted routes are `normal`).
    shedding: tuple[RouteClass, ...] = ()


def tables_of(*modules: ModuleType) -> tuple[Table, ...]:
    """The `Table` objects a `tables.py` defines, in definition order."""
    return tuple(value for module in modules for value in vars(module).values() if isinstance(value, Table))


def events_of(module: ModuleType) -> tuple[type[Event], ...]:
    """The `Event` classes an `events.py` defines (not those it imports)."""
    return tuple(
        value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, Event) and value is not Event
        and value.__module__ == module.__name__
    )  # fmt: skip


def settings_from(source: object, kind: type[S]) -> S:
    """Fill the settings dataclass `kind` from the same-named attributes of the configuration `source`."""
    if not dataclasses.is_dataclass(kind):
        raise TypeError(f"{kind.__name__} must be a dataclass of settings")
    values: dict[str, object] = {}
    for item in dataclasses.fields(kind):
        if not hasattr(source, item.name):
            raise LookupError(f"{kind.__name__}.{item.name} is not a setting of the configuration")
        values[item.name] = getattr(source, item.name)
    return kind(**values)


def _role_permissions(manifests: Iterable[Manifest], roles: Iterable[str]) -> dict[str, frozenset[str]]:
    """Role name -> the permissions it holds, from every manifest's grants; unknown role names are refused."""
    known = frozenset(roles)
    held: dict[str, set[str]] = {role: set() for role in known}
    seen: dict[str, str] = {}
    for manifest in manifests:
        for permission, holders in manifest.permissions.items():
            if permission in seen:
                raise ValueError(f"permission {permission!r} is declared by {seen[permission]} and {manifest.name}")
            seen[permission] = manifest.name
            unknown = holders - known - EVERY_ROLE
            if unknown:
                raise ValueError(f"{manifest.name}: {permission!r} names unknown roles {sorted(unknown)}")
            for role in known if holders >= EVERY_ROLE else holders:
                held[role].add(str(permission))
    return {role: frozenset(perms) for role, perms in held.items()}


class Modules:
    """A list of manifests, checked once, and everything the application derives from it."""

    def __init__(self, manifests: Sequence[Manifest]) -> None:
        self.manifests = tuple(manifests)
        names = [m.name for m in self.manifests]
        if len(set(names)) != len(names):
            raise ValueError(f"a module is listed twice: {names}")
        for manifest in self.manifests:
            _check(manifest)

    @property
    def names(self) -> list[str]:
        return [m.name for m in self.manifests]

    def get(self, name: str) -> Manifest:
        for manifest in self.manifests:
            if manifest.name == name:
                return manifest
        raise LookupError(f"no module named {name!r}; modules: {', '.join(self.names)}")

    @property
    def schemas(self) -> tuple[str, ...]:
        """The PostgreSQL schemas the modules own, in the order of the list."""
        return tuple(m.schema for m in self.manifests if m.schema is not None)

    @property
    def tables(self) -> tuple[Table, ...]:
        return tuple(table for m in self.manifests for table in m.tables)

    @property
    def routers(self) -> tuple[APIRouter, ...]:
        return tuple(router for m in self.manifests for router in m.routers)

    @property
    def public_routes(self) -> frozenset[tuple[str, str]]:
        return frozenset(route for m in self.manifests for route in m.public_routes)

    def event_types(self) -> list[type[Event]]:
        """Every event contract the modules publish, ordered by (name, version)."""
        return sorted((cls for m in self.manifests for cls in m.events), key=lambda cls: cls.key())

    def subscriptions(self, module: str | None = None) -> Subscriptions:
        """The modules' subscriptions (all of them, or one module's)."""
        chosen = self.manifests if module is None else (self.get(module),)
        return Subscriptions(s for m in chosen for s in m.subscriptions)

    def jobs(self, db: Database, config: object) -> list[Job]:
        """Every module's periodic jobs, each built with the settings it declares, read from `config`."""
        found: list[Job] = []
        for manifest in self.manifests:
            if manifest.jobs is not None:
                found.extend(manifest.jobs.build(db, settings_from(config, manifest.jobs.settings)))
        return found

    def settings(self, config: object) -> ModuleSettings:
        """Every settings dataclass the manifests declare (their own and their jobs'), filled from `config` once."""
        kinds = {kind for m in self.manifests for kind in (*m.settings, *((m.jobs.settings,) if m.jobs else ()))}
        return ModuleSettings({kind: settings_from(config, kind) for kind in kinds})

    def role_permissions(self, roles: Iterable[str]) -> dict[str, frozenset[str]]:
        """Role name -> the permissions it holds, from every module's grants; unknown role names are refused."""
        return _role_permissions(self.manifests, roles)

    @property
    def permissions(self) -> frozenset[str]:
        return frozenset(str(p) for m in self.manifests for p in m.permissions)

    @property
    def metrics(self) -> tuple[MetricWrapperBase, ...]:
        return tuple(metric for m in self.manifests for metric in m.metrics)

    def shed_policy(self) -> ShedPolicy:
        return ShedPolicy(route for m in self.manifests for route in m.shedding)


class ModuleSettings:
    """The modules' settings values, built once per process and looked up by their type (never by a string)."""

    def __init__(self, values: Mapping[type, object]) -> None:
        self._values = dict(values)

    def get(self, kind: type[S]) -> S:
        value = self._values.get(kind)
        if not isinstance(value, kind):
            raise LookupError(f"{kind.__name__} is not declared by any module's manifest")
        return value


def _check(manifest: Manifest) -> None:
    """A manifest's parts must belong to it: its tables in its schema, its consumers named after it."""
    for table in manifest.tables:
        if table.schema != manifest.schema:
            raise ValueError(f"{manifest.name}: table {table.fullname} is outside its schema {manifest.schema!r}")
    for subscription in manifest.subscriptions:
        if subscription.module != manifest.name:
            raise ValueError(f"{manifest.name}: consumer {subscription.consumer!r} must start with '{manifest.name}.'")
