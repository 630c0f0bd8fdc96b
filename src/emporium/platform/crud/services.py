"""The engine's store (service role): SQL for one resource's table, always scoped by org."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from emporium.platform.crud.filters import ListQuery, cursor_for, keyset_clause, where_clauses
from emporium.platform.crud.resource import Condition, Resource, Row
from emporium.platform.crud.rules import Change
from emporium.platform.crud.store import RecordStore
from emporium.platform.db.tx import Tx
from emporium.platform.errors import Conflict
from emporium.platform.ids import new_id
from emporium.platform.pagination import Page
from emporium.platform.telemetry.tracing import traced


class AlreadyExists(Conflict):
    code = "already_exists"
    title = "A resource with these values already exists"


class CrudStore:
    """The SQL adapter of `RecordStore`: rows in the resource's table, locked `FOR UPDATE` by writes."""

    locks_rows = True
    reads_in_transaction = True

    def __init__(self, resource: Resource) -> None:
        self.resource = resource
        self.table = resource.table

    async def undo(self, org_id: str, change: Change) -> None:
        return None  # the rollback did it

    def _scope(self, org_id: str) -> ColumnElement[bool]:
        condition = self.table.c.org_id == org_id
        if self.resource.soft_delete:
            condition = and_(condition, self.table.c.deleted_at.is_(None))
        return condition

    @traced
    async def insert(self, tx: Tx, org_id: str, values: Row) -> Row:
        statement = (
            insert(self.table)
            .values(id=new_id(self.resource.id_prefix), org_id=org_id, **values)
            .returning(*self.table.c)
        )
        try:
            return dict((await tx.execute(statement)).one()._mapping)
        except IntegrityError as error:
            raise _conflict(self.resource, error) from None

    @traced
    async def get(self, tx: Tx | None, org_id: str, row_id: str, *, for_update: bool = False) -> Row | None:
        """`for_update` locks the row until the transaction ends: hooks then see the state they change."""
        query = select(self.table).where(self._scope(org_id), self.table.c.id == row_id)
        if for_update:
            query = query.with_for_update()
        row = (await _open(tx).execute(query)).one_or_none()
        return dict(row._mapping) if row else None

    @traced
    async def get_by(self, tx: Tx | None, org_id: str, column: str, value: Any) -> Row | None:
        query = select(self.table).where(self._scope(org_id), self.table.c[column] == value)
        row = (await _open(tx).execute(query)).one_or_none()
        return dict(row._mapping) if row else None

    @traced
    async def list(
        self, tx: Tx | None, org_id: str, query: ListQuery, extra: list[Condition] | None = None
    ) -> Page[Row]:
        column = self.table.c[self.resource.sortable[query.sort]]
        conditions = [*query.conditions, *(extra or [])]
        statement = select(self.table).where(self._scope(org_id), *where_clauses(self.table, conditions))
        after = keyset_clause(self.resource, query)
        if after is not None:
            statement = statement.where(after)
        order = (column.desc(), self.table.c.id.desc()) if query.descending else (column.asc(), self.table.c.id.asc())
        statement = statement.order_by(*order).limit(query.limit + 1)
        rows = [dict(r._mapping) for r in await _open(tx).execute(statement)]
        if len(rows) > query.limit:
            rows = rows[: query.limit]
            last = rows[-1]
            return Page(rows, cursor_for(query, last[column.name], last["id"]))
        return Page(rows, None)

    @traced
    async def update(self, tx: Tx, org_id: str, row_id: str, changes: Row, expected_version: int | None) -> Row | None:
        """None when the row is absent, or when `expected_version` no longer matches."""
        condition = and_(self._scope(org_id), self.table.c.id == row_id)
        if expected_version is not None:
            condition = and_(condition, self.table.c.version == expected_version)
        statement = (
            update(self.table)
            .where(condition)
            .values(**changes, version=self.table.c.version + 1, updated_at=func.now())
            .returning(*self.table.c)
        )
        try:
            row = (await tx.execute(statement)).one_or_none()
        except IntegrityError as error:
            raise _conflict(self.resource, error) from None
        return dict(row._mapping) if row else None

    @traced
    async def delete(self, tx: Tx, org_id: str, row_id: str, expected_version: int | None) -> Row | None:
        condition = and_(self._scope(org_id), self.table.c.id == row_id)
        if expected_version is not None:
            condition = and_(condition, self.table.c.version == expected_version)
        statement: Any
        if self.resource.soft_delete:
            statement = (
                update(self.table)
                .where(condition)
                .values(deleted_at=func.now(), version=self.table.c.version + 1, updated_at=func.now())
                .returning(*self.table.c)
            )
        else:
            statement = delete(self.table).where(condition).returning(*self.table.c)
        try:
            row = (await tx.execute(statement)).one_or_none()
        except IntegrityError as error:
            raise Conflict(f"{self.resource.singular} {row_id} is still referenced and cannot be deleted") from error
        return dict(row._mapping) if row else None


def _conflict(resource: Resource, error: IntegrityError) -> Conflict:
    constraint = getattr(getattr(error.orig, "__cause__", None), "constraint_name", None) or "a unique constraint"
    return AlreadyExists(f"{resource.singular} conflicts with an existing one ({constraint})", constraint=constraint)


def _open(tx: Tx | None) -> Tx:
    if tx is None:
        raise RuntimeError("the SQL store reads inside a transaction (reads_in_transaction)")
    return tx


def _is_a_record_store(store: CrudStore) -> RecordStore:
    return store
