"""The port between the CRUD engine's workflows and the store that keeps a resource's records.

`CrudStore` (SQL, `services.py`) keeps them in the resource's PostgreSQL table;
`MongoStore` (`mongo.py`) in a MongoDB collection. The workflows always open a
PostgreSQL transaction for a write (the audit entry and the rules' own rows live
there) and pass it along; a store that keeps records elsewhere writes them
inside that transaction's span and puts them back (`undo`) if it does not commit.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, Protocol

from emporium.platform.crud.filters import ListQuery
from emporium.platform.crud.resource import Condition, Row
from emporium.platform.crud.rules import Change
from emporium.platform.db.tx import Tx
from emporium.platform.pagination import Page


class RecordStore(Protocol):
    # True: `get(for_update=True)` locks the row until the transaction ends, so a versioned write cannot
    # lose a race. False: the write is a compare-and-set on `version`, and the workflow retries a lost one.
    locks_rows: bool
    # True: reads need a PostgreSQL transaction (the rows are there); False: reads open none.
    reads_in_transaction: bool

    def insert(self, tx: Tx, org_id: str, values: Row) -> Awaitable[Row]: ...

    def get(self, tx: Tx | None, org_id: str, row_id: str, *, for_update: bool = False) -> Awaitable[Row | None]: ...

    def get_by(self, tx: Tx | None, org_id: str, column: str, value: Any) -> Awaitable[Row | None]: ...

    def list(
        self, tx: Tx | None, org_id: str, query: ListQuery, extra: list[Condition] | None = None
    ) -> Awaitable[Page[Row]]: ...

    def update(
        self, tx: Tx, org_id: str, row_id: str, changes: Row, expected_version: int | None
    ) -> Awaitable[Row | None]: ...

    def delete(self, tx: Tx, org_id: str, row_id: str, expected_version: int | None) -> Awaitable[Row | None]: ...

    def undo(self, org_id: str, change: Change) -> Awaitable[None]:
        """The transaction did not commit after `change` was written: put the record back as it was."""
        ...
