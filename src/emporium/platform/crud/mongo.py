"""The MongoDB adapter of the CRUD engine's `RecordStore` (PyMongo's async API).

One document per record: `_id` is the record's id, the other fields are the
resource table's columns (the table stays the schema of record: column names,
defaults and which columns are indexed). A soft-deleted resource also keeps
`live: true` until deleted, so a partial unique index frees a deleted record's
natural key (the PostgreSQL `... WHERE deleted_at IS NULL` index).

MongoDB has no `SELECT ... FOR UPDATE`: a write is a compare-and-set on
`version` (`locks_rows = False`), and the workflow reads again and retries one
that lost a race. Timestamps are kept to the millisecond (MongoDB's precision),
so a keyset cursor round-trips exactly.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import ConnectionFailure, DuplicateKeyError
from sqlalchemy import Column, Table

from emporium.platform.crud.filters import ListQuery, cursor_for, keyset_position
from emporium.platform.crud.resource import Condition, Op, Resource, Row
from emporium.platform.crud.rules import Action, Change
from emporium.platform.crud.services import AlreadyExists
from emporium.platform.crud.store import RecordStore
from emporium.platform.db.tx import Tx
from emporium.platform.errors import Conflict, Unavailable
from emporium.platform.ids import new_id
from emporium.platform.pagination import Page
from emporium.platform.telemetry.tracing import traced

Document = dict[str, Any]
P = ParamSpec("P")
T = TypeVar("T")
Mirror = Callable[[Tx, str, list[Row]], Awaitable[None]]  # writes rows' copies in the PostgreSQL transaction
_OPS = {Op.NE: "$ne", Op.GT: "$gt", Op.GTE: "$gte", Op.LT: "$lt", Op.LTE: "$lte", Op.IN: "$in"}
_INDEX_NAME = re.compile(r"index: (\S+)")
_SET_BY_STORE = frozenset({"id", "org_id", "version", "created_at", "updated_at", "deleted_at"})


class StoreUnavailable(Unavailable):
    """MongoDB could not be reached (or answered too late): a 503 with Retry-After, as for PostgreSQL."""

    code = "store_unavailable"
    title = "The store is unavailable"


def available(method: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """A connection failure to MongoDB becomes `StoreUnavailable` (503), never an unhandled 500."""

    @functools.wraps(method)
    async def guarded(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await method(*args, **kwargs)
        except ConnectionFailure as error:
            raise StoreUnavailable(f"MongoDB is unreachable: {type(error).__name__}", retry_after=2) from None

    return guarded


def now() -> datetime:
    """The current time at MongoDB's precision (milliseconds), timezone-aware."""
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def mongo_filter(conditions: Sequence[Condition]) -> Document:
    clauses: list[Document] = []
    for c in conditions:
        if c.op is Op.EQ:
            clauses.append({c.column: c.value})
        elif c.op is Op.PREFIX:
            clauses.append({c.column: {"$regex": "^" + re.escape(c.value)}})  # anchored: served by the index
        else:
            clauses.append({c.column: {_OPS[c.op]: c.value}})
    return {"$and": clauses} if clauses else {}


def _column_default(column: Column[Any]) -> Any:
    """The value PostgreSQL's server default would give a column the body left out."""
    default = column.server_default
    if default is None:
        return None
    raw = getattr(default, "arg", "")
    text = raw if isinstance(raw, str) else str(getattr(raw, "text", ""))
    known: dict[str, Any] = {"": "", "true": True, "false": False, "'{}'::jsonb": {}, "'[]'::jsonb": []}
    if text in known:
        return known[text]
    return int(text) if text.lstrip("-").isdigit() else None


def required_indexes(resource: Resource) -> list[IndexModel]:
    """One (org_id, column, _id) index behind every filter and sort, and the table's unique indexes."""
    columns = sorted({spec.column for spec in resource.filter_specs.values()} | set(resource.sortable.values()))
    table = resource.table.name
    models = [
        IndexModel([("org_id", ASCENDING), (c, ASCENDING), ("_id", ASCENDING)], name=f"ix_{table}_org_{c}")
        for c in columns
        if c != "id"
    ]
    for index in resource.table.indexes:
        if index.unique:
            keys = [(c.name, ASCENDING) for c in index.columns]
            partial = {"partialFilterExpression": {"live": True}} if resource.soft_delete else {}
            models.append(IndexModel(keys, name=index.name, unique=True, **partial))
    return models


async def ensure_indexes(collection: AsyncCollection[Document], resource: Resource) -> list[str]:
    """Create the indexes `required_indexes` names (idempotent); `emporium catalog mongo-init` runs it."""
    return list(await collection.create_indexes(required_indexes(resource)))


async def missing_indexes(collection: AsyncCollection[Document], resource: Resource) -> list[str]:
    """Required indexes the collection lacks (by name and keys): a store refuses to start with any."""
    present = await collection.index_information()
    missing = []
    for model in required_indexes(resource):
        spec = model.document
        found = present.get(spec["name"])
        if found is None or [tuple(k) for k in found["key"]] != list(spec["key"].items()):
            missing.append(spec["name"])
    return missing


class MongoStore:
    locks_rows = False
    reads_in_transaction = False

    def __init__(
        self,
        resource: Resource,
        collection: AsyncCollection[Document],
        *,
        mirror: Mirror | None = None,
        references: Sequence[tuple[AsyncCollection[Document], str]] = (),
    ) -> None:
        """`mirror`: also write each written row in the PostgreSQL transaction (e.g. what checkout reads);
        `references`: (collection, field) pairs that refer to this resource, checked before a hard delete."""
        self.resource = resource
        self.collection = collection
        self.mirror = mirror
        self.references = references
        table: Table = resource.table
        self.defaults = {c.name: _column_default(c) for c in table.columns if c.name not in _SET_BY_STORE}

    def _scope(self, org_id: str) -> Document:
        return {"org_id": org_id, "deleted_at": None} if self.resource.soft_delete else {"org_id": org_id}

    @staticmethod
    def row(document: Document | None) -> Row | None:
        if document is None:
            return None
        row = {"id": document["_id"], **document}
        del row["_id"]
        row.pop("live", None)
        return row

    def _document(self, row: Row) -> Document:
        document = {"_id": row["id"], **{k: v for k, v in row.items() if k != "id"}}
        if self.resource.soft_delete:
            document["live"] = row.get("deleted_at") is None
        return document

    async def _mirrored(self, tx: Tx, org_id: str, document: Document | None) -> Row | None:
        row = self.row(document)
        if row is not None and self.mirror is not None:
            await self.mirror(tx, org_id, [row])
        return row

    @traced
    @available
    async def insert(self, tx: Tx, org_id: str, values: Row) -> Row:
        moment = now()
        row = {**self.defaults, **values, "id": new_id(self.resource.id_prefix), "org_id": org_id, "version": 1}
        row.update(created_at=moment, updated_at=moment)
        if self.resource.soft_delete:
            row["deleted_at"] = None
        document = self._document(row)
        try:
            await self.collection.insert_one(document)
        except DuplicateKeyError as error:
            raise _conflict(self.resource, error) from None
        mirrored = await self._mirrored(tx, org_id, document)
        assert mirrored is not None
        return mirrored

    @traced
    @available
    async def get(self, tx: Tx | None, org_id: str, row_id: str, *, for_update: bool = False) -> Row | None:
        return self.row(await self.collection.find_one({"_id": row_id, **self._scope(org_id)}))

    @traced
    @available
    async def get_by(self, tx: Tx | None, org_id: str, column: str, value: Any) -> Row | None:
        return self.row(await self.collection.find_one({column: value, **self._scope(org_id)}))

    @traced
    @available
    async def list(
        self, tx: Tx | None, org_id: str, query: ListQuery, extra: list[Condition] | None = None
    ) -> Page[Row]:
        column = self.resource.sortable[query.sort]
        clauses = [self._scope(org_id), mongo_filter([*query.conditions, *(extra or [])])]
        position = keyset_position(self.resource, query)
        if position is not None:
            beyond = "$lt" if query.descending else "$gt"
            value, last_id = position
            clauses.append({"$or": [{column: {beyond: value}}, {column: value, "_id": {beyond: last_id}}]})
        direction = DESCENDING if query.descending else ASCENDING
        cursor = self.collection.find({"$and": [c for c in clauses if c]})
        cursor = cursor.sort([(column, direction), ("_id", direction)]).limit(query.limit + 1)
        rows: list[Row] = [row async for document in cursor if (row := self.row(document)) is not None]
        if len(rows) > query.limit:
            rows = rows[: query.limit]
            return Page(rows, cursor_for(query, rows[-1][column], rows[-1]["id"]))
        return Page(rows, None)

    async def _swap(self, tx: Tx, org_id: str, row_id: str, expected: int | None, update: Document) -> Row | None:
        match = {"_id": row_id, **self._scope(org_id)}
        if expected is not None:
            match["version"] = expected
        try:
            document = await self.collection.find_one_and_update(match, update, return_document=ReturnDocument.AFTER)
        except DuplicateKeyError as error:
            raise _conflict(self.resource, error) from None
        return await self._mirrored(tx, org_id, document)

    @traced
    @available
    async def update(self, tx: Tx, org_id: str, row_id: str, changes: Row, expected_version: int | None) -> Row | None:
        """None when the record is absent or no longer at `expected_version` (a compare-and-set)."""
        update = {"$set": {**changes, "updated_at": now()}, "$inc": {"version": 1}}
        return await self._swap(tx, org_id, row_id, expected_version, update)

    @traced
    @available
    async def delete(self, tx: Tx, org_id: str, row_id: str, expected_version: int | None) -> Row | None:
        if self.resource.soft_delete:
            moment = now()
            update = {"$set": {"deleted_at": moment, "updated_at": moment, "live": False}, "$inc": {"version": 1}}
            return await self._swap(tx, org_id, row_id, expected_version, update)
        for collection, field in self.references:
            if await collection.find_one({field: row_id}, {"_id": 1}) is not None:
                raise Conflict(f"{self.resource.singular} {row_id} is still referenced and cannot be deleted")
        match = {"_id": row_id, **self._scope(org_id)}
        if expected_version is not None:
            match["version"] = expected_version
        return self.row(await self.collection.find_one_and_delete(match))

    @available
    async def undo(self, org_id: str, change: Change) -> None:
        """Put back the record as it was before `change` (the PostgreSQL transaction did not commit).

        Conditional on the version the change wrote, so a later write is never overwritten."""
        written = change.row
        if written is None:
            return
        if change.action is Action.CREATE:
            await self.collection.delete_one({"_id": written["id"], "version": written["version"]})
        elif change.current is not None:
            previous = self._document(change.current)
            if change.action is Action.DELETE and not self.resource.soft_delete:
                await self.collection.insert_one(previous)
            else:
                await self.collection.replace_one({"_id": written["id"], "version": written["version"]}, previous)


def _conflict(resource: Resource, error: DuplicateKeyError) -> Conflict:
    match = _INDEX_NAME.search(str((error.details or {}).get("errmsg", "")))
    constraint = match.group(1) if match else "a unique constraint"
    return AlreadyExists(f"{resource.singular} conflicts with an existing one ({constraint})", constraint=constraint)


def _is_a_record_store(store: MongoStore) -> RecordStore:
    return store
