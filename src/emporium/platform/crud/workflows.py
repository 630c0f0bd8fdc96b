"""The engine's workflows: one per outcome (create, read, list, update, delete, named query).

A write runs the resource's `rules.validate` before its transaction, then opens it, locks the
row, runs `before_write`, writes, runs `after_write`, records the audit entry, commits, and only
then invalidates the cache.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from pydantic import BaseModel

from emporium.platform.audit import store as audit_store
from emporium.platform.audit.entries import AuditContext
from emporium.platform.auth.principal import Principal
from emporium.platform.cache import SingleFlight, VersionedCache
from emporium.platform.crud.filters import ListQuery
from emporium.platform.crud.resource import CachePolicy, Condition, Resource, Row
from emporium.platform.crud.rules import Action, Change, RuleContext
from emporium.platform.crud.services import CrudStore
from emporium.platform.crud.store import RecordStore
from emporium.platform.db.engine import Database
from emporium.platform.db.transaction import transaction
from emporium.platform.db.tx import Tx
from emporium.platform.errors import Conflict, NotFound, PreconditionFailed
from emporium.platform.pagination import Page
from emporium.platform.telemetry.metrics import CACHE_LOOKUPS
from emporium.platform.telemetry.tracing import traced

_MAX_RELOADS = 3
_MAX_WRITE_ATTEMPTS = 8  # a store without row locks retries a write that lost a race (see `_write`)


def cache_key(resource_name: str, org_id: str, field: str, value: Any) -> str:
    return f"{resource_name}:{org_id}:{field}:{value}"


async def invalidate_cached(
    cache: VersionedCache, name: str, policy: CachePolicy, org_id: str, rows: list[Row], version: int | None = None
) -> list[str]:
    """After a commit: tombstone the cached keys of `rows` (by id and each lookup) at `version` (default: the row's)."""
    tombstones: dict[str, int] = {}
    for row in rows:
        at = version if version is not None else int(row["version"])
        keys = [cache_key(name, org_id, "id", row["id"])] + [cache_key(name, org_id, f, row[f]) for f in policy.lookups]
        for key in keys:
            tombstones[key] = max(at, tombstones.get(key, 0))
    for key in sorted(tombstones):
        await cache.invalidate(key, tombstones[key], policy.ttl_seconds)
    return sorted(tombstones)


class CrudWorkflows:
    """`store`: where the records live (default: the resource's SQL table); `port`: what the rules may use
    besides the transaction (the module's store port), handed to them in `RuleContext.port`."""

    def __init__(self, resource: Resource, store: RecordStore | None = None, port: Any = None) -> None:
        self.resource = resource
        self.store: RecordStore = store or CrudStore(resource)
        self.port = port
        self.flights = SingleFlight()

    @asynccontextmanager
    async def _reading(self, db: Database) -> AsyncIterator[Tx | None]:
        """A read's transaction, when the store keeps its records in PostgreSQL; else none is opened."""
        if not self.store.reads_in_transaction:
            yield None
            return
        async with transaction(db) as tx:
            yield tx

    # --- cache ----------------------------------------------------------------------------------

    def _key(self, org_id: str, field: str, value: Any) -> str:
        return cache_key(self.resource.name, org_id, field, value)

    async def _invalidate(self, cache: VersionedCache | None, org_id: str, rows: list[Row], version: int) -> None:
        if cache is None or self.resource.cache is None:
            return
        for key in await invalidate_cached(cache, self.resource.name, self.resource.cache, org_id, rows, version):
            self.flights.forget(key)

    async def _read_through(
        self, cache: VersionedCache | None, key: str, load: Callable[[], Awaitable[Row | None]]
    ) -> BaseModel | None:
        policy = self.resource.cache
        if cache is None or policy is None or not cache.available:
            row = await load()
            return self.resource.from_row(row) if row else None
        entry = await cache.get(key)
        if entry is not None and entry.payload is not None:
            CACHE_LOOKUPS.labels(self.resource.name, "hit").inc()
            return self.resource.read_schema.model_validate_json(entry.payload)
        CACHE_LOOKUPS.labels(self.resource.name, "miss").inc()

        async def load_and_store() -> tuple[BaseModel, int] | None:
            attempt = 0
            while True:
                attempt += 1
                row = await load()
                if row is None:
                    return None
                model, version = self.resource.from_row(row), int(row["version"])
                if await cache.put_if_newer(key, version, model.model_dump_json(), policy.ttl_seconds):
                    return model, version
                newer = await cache.get(key)
                if newer is None or newer.version <= version or attempt >= _MAX_RELOADS:
                    return model, version  # not stored (cache unavailable), but what we read is current

        result, led = await self.flights.run(key, load_and_store)
        if result is not None and not led:
            newer = await cache.get(key)
            if newer is not None and newer.version > result[1]:  # joined a load that began before a commit
                result = await load_and_store()
        return result[0] if result else None

    # --- outcomes -------------------------------------------------------------------------------

    @traced
    async def create(
        self, db: Database, cache: VersionedCache | None, principal: Principal, audit: AuditContext, body: BaseModel
    ) -> Row:
        change = Change(Action.CREATE, self.resource.to_row(body))
        row = await self._write(db, principal, audit, change, None, None)
        await self._invalidate(cache, principal.org_id, [row], row["version"])
        return row

    async def _write(
        self,
        db: Database,
        principal: Principal,
        audit: AuditContext,
        change: Change,
        row_id: str | None,
        if_match: int | None,
    ) -> Row:
        """validate (no transaction) -> [lock the row] -> before_write -> write -> after_write -> audit -> commit.

        With a store that does not lock rows, a write that lost a race (the version moved under it) is
        run again from the read, rules included, up to `_MAX_WRITE_ATTEMPTS` times. A write the store made
        outside the transaction is undone when the transaction does not commit.
        """
        rules, ctx, org_id = self.resource.rules, RuleContext(principal, self.port), principal.org_id
        await rules.validate(ctx, [change])  # before the transaction: a slow check holds no connection
        change.raise_if_rejected()
        values = dict(change.values)
        for attempt in range(1, _MAX_WRITE_ATTEMPTS + 1):
            change.values, change.current, change.row = dict(values), None, None
            committed = False
            try:
                async with transaction(db) as tx:
                    if row_id is not None:
                        change.current = await self._locked(tx, org_id, row_id, if_match)
                    await rules.before_write(tx, ctx, [change])
                    change.raise_if_rejected()
                    change.row = await self._store_write(tx, org_id, row_id, change)
                    if change.row is None:
                        if not self.store.locks_rows and attempt < _MAX_WRITE_ATTEMPTS:
                            continue  # leaves the block uncommitted: rolled back, then read again
                        raise Conflict(f"{self.resource.singular} {row_id} changed while it was being written; retry")
                    await rules.after_write(tx, ctx, [change])
                    await audit_store.record(tx, audit, change.row["id"])
                    await tx.commit()
                    committed = True
            except BaseException:
                if change.row is not None and not committed:
                    await self.store.undo(org_id, change)
                raise
            if change.row is not None:
                return change.row
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _store_write(self, tx: Tx, org_id: str, row_id: str | None, change: Change) -> Row | None:
        current = change.current
        if change.action is Action.CREATE:
            return await self.store.insert(tx, org_id, change.values)
        assert row_id is not None
        assert current is not None
        if change.action is Action.UPDATE:
            return await self.store.update(tx, org_id, row_id, change.values, current["version"])
        return await self.store.delete(tx, org_id, row_id, current["version"])

    @traced
    async def get(self, db: Database, cache: VersionedCache | None, principal: Principal, row_id: str) -> BaseModel:
        async def load() -> Row | None:
            async with self._reading(db) as tx:
                return await self.store.get(tx, principal.org_id, row_id)

        model = await self._read_through(cache, self._key(principal.org_id, "id", row_id), load)
        if model is None:
            raise NotFound(f"no {self.resource.singular} {row_id}")
        return model

    @traced
    async def get_by(
        self, db: Database, cache: VersionedCache | None, principal: Principal, field: str, value: str
    ) -> BaseModel:
        async def load() -> Row | None:
            async with self._reading(db) as tx:
                return await self.store.get_by(tx, principal.org_id, field, value)

        model = await self._read_through(cache, self._key(principal.org_id, field, value), load)
        if model is None:
            raise NotFound(f"no {self.resource.singular} with {field} {value!r}")
        return model

    @traced
    async def list(
        self, db: Database, principal: Principal, query: ListQuery, extra: list[Condition] | None = None
    ) -> Page[Row]:
        async with self._reading(db) as tx:
            return await self.store.list(tx, principal.org_id, query, extra)

    @traced
    async def update(
        self,
        db: Database,
        cache: VersionedCache | None,
        principal: Principal,
        audit: AuditContext,
        row_id: str,
        body: BaseModel,
        if_match: int | None,
    ) -> Row:
        change = Change(Action.UPDATE, self.resource.to_row(body))
        row = await self._write(db, principal, audit, change, row_id, if_match)
        assert change.current is not None
        await self._invalidate(cache, principal.org_id, [change.current, row], row["version"])
        return row

    @traced
    async def delete(
        self,
        db: Database,
        cache: VersionedCache | None,
        principal: Principal,
        audit: AuditContext,
        row_id: str,
        if_match: int | None,
    ) -> None:
        change = Change(Action.DELETE)
        await self._write(db, principal, audit, change, row_id, if_match)
        assert change.current is not None
        await self._invalidate(cache, principal.org_id, [change.current], change.current["version"] + 1)

    async def _locked(self, tx: Tx, org_id: str, row_id: str, if_match: int | None) -> Row:
        """The row, locked until the transaction ends (rules see the state they change), at `if_match`."""
        current = await self.store.get(tx, org_id, row_id, for_update=True)
        if current is None:
            raise NotFound(f"no {self.resource.singular} {row_id}")
        if if_match is not None and current["version"] != if_match:
            raise _stale(self.resource, row_id, current["version"], if_match)
        return current

    @traced
    async def run_query(
        self, db: Database, principal: Principal, name: str, params: BaseModel, query: ListQuery
    ) -> Page[Row]:
        named = self.resource.queries[name]
        return await self.list(db, principal, query, list(named.where(params)))


def _stale(resource: Resource, row_id: str, current: int | None, expected: int) -> PreconditionFailed:
    return PreconditionFailed(
        f"{resource.singular} {row_id} is at a newer version than If-Match names; read it again",
        current_version=current,
        if_match=expected,
    )
