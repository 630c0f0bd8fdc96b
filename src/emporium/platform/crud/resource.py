"""What a resource declares. Everything else (routes, SQL, OpenAPI) is derived from it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Column, Index, Table

from emporium.platform.auth.perms import Perm
from emporium.platform.auth.principal import Principal
from emporium.platform.db.tx import Tx

Row = dict[str, Any]


class Op(StrEnum):
    EQ = "eq"
    NE = "ne"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    IN = "in"
    PREFIX = "prefix"


@dataclass(frozen=True, slots=True)
class Filter:
    """A filterable field: `?name=v` (eq) or `?name[op]=v`."""

    column: str
    type: type[int] | type[str] | type[bool] = str
    ops: frozenset[Op] = frozenset({Op.EQ})
    choices: Mapping[str, Any] | None = None  # public value -> stored value (enums, `status=active`)
    example: str | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class HookContext:
    principal: Principal

    @property
    def org_id(self) -> str:
        return self.principal.org_id


BeforeCreate = Callable[[Tx, HookContext, Row], Awaitable[Row]]
AfterWrite = Callable[[Tx, HookContext, Row], Awaitable[None]]
BeforeUpdate = Callable[[Tx, HookContext, Row, Row], Awaitable[Row]]  # (current, changes) -> changes
BeforeDelete = Callable[[Tx, HookContext, Row], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Hooks:
    """Run inside the workflow's transaction; raising a DomainError rejects the change."""

    before_create: BeforeCreate | None = None
    after_create: AfterWrite | None = None
    before_update: BeforeUpdate | None = None
    after_update: AfterWrite | None = None
    before_delete: BeforeDelete | None = None
    after_delete: AfterWrite | None = None


@dataclass(frozen=True, slots=True)
class NamedQuery:
    """A reusable, typed query exposed as `GET {path}:{name}`: params are validated by `params`."""

    params: type[BaseModel]
    where: Callable[[Table, BaseModel], Sequence[Any]]  # SQLAlchemy conditions, ANDed with the org scope
    description: str = ""


@dataclass(frozen=True, slots=True)
class Permissions:
    read: Perm
    create: Perm
    update: Perm
    delete: Perm


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """Cache reads by id (and by each `lookups` field) with versioned entries."""

    ttl_seconds: float = 60.0
    lookups: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Resource:
    name: str  # plural, used in paths, tags and operation ids: "products"
    path: str  # "/v1/products"
    id_prefix: str  # "prd"
    table: Table
    read_schema: type[BaseModel]
    create_schema: type[BaseModel]
    update_schema: type[BaseModel]
    permissions: Permissions
    to_row: Callable[[BaseModel], Row]  # body -> column values (create and partial update)
    from_row: Callable[[Row], BaseModel]  # row -> read schema
    filters: Mapping[str, Filter] = field(default_factory=dict)
    sortable: Mapping[str, str] = field(default_factory=dict)  # public name -> column
    default_sort: str = "created_at"
    hooks: Hooks = Hooks()
    queries: Mapping[str, NamedQuery] = field(default_factory=dict)
    soft_delete: bool = False
    cache: CachePolicy | None = None
    create_response: Callable[[Row], BaseModel] | None = None  # e.g. to show a secret once

    def __post_init__(self) -> None:
        check_indexes(self)
        if self.default_sort.lstrip("-") not in self.sortable:
            raise ValueError(f"{self.name}: default sort {self.default_sort!r} is not a declared sort")

    @property
    def singular(self) -> str:
        return self.name[:-1] if self.name.endswith("s") else self.name

    def column(self, name: str) -> Column[Any]:
        return self.table.c[name]


def crud_indexes(table_name: str, columns: Sequence[str], *, prefix_columns: Sequence[str] = ()) -> list[Index]:
    """Indexes that back filters and sorts: (org_id, column, id), plus pattern indexes for prefix filters.

    Called in the table definition, so migrations carry them; `Resource`
    refuses a filter or sort whose column has no such index.
    """
    indexes = [Index(f"ix_{table_name}_org_{c}", "org_id", c, "id") for c in columns]
    indexes += [
        Index(f"ix_{table_name}_org_{c}_pattern", "org_id", c, postgresql_ops={c: "text_pattern_ops"})
        for c in prefix_columns
    ]
    return indexes


def _indexed_columns(table: Table) -> tuple[set[str], set[str]]:
    """Columns that lead an (org_id, column, ...) index, and those with a pattern index."""
    leading, pattern = set(), set()
    for index in table.indexes:
        names = [c.name for c in index.columns]
        if len(names) >= 2 and names[0] == "org_id":
            leading.add(names[1])
            if index.dialect_options["postgresql"].get("ops"):
                pattern.add(names[1])
    for constraint in table.constraints:
        names = [c.name for c in getattr(constraint, "columns", [])]
        if len(names) >= 2 and names[0] == "org_id":
            leading.add(names[1])
    return leading, pattern


def check_indexes(resource: Resource) -> None:
    """Every filter and sort must be backed by an index (org_id, column, ...)."""
    leading, pattern = _indexed_columns(resource.table)
    for name, spec in resource.filters.items():
        if spec.column != "id" and spec.column not in leading:
            raise ValueError(
                f"{resource.name}: filter {name!r} on {spec.column!r} has no (org_id, {spec.column}) index"
            )
        if Op.PREFIX in spec.ops and spec.column not in pattern:
            raise ValueError(f"{resource.name}: prefix filter {name!r} needs a text_pattern_ops index")
    for name, column in resource.sortable.items():
        if column != "id" and column not in leading:
            raise ValueError(f"{resource.name}: sort {name!r} on {column!r} has no (org_id, {column}) index")
