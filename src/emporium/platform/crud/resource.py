"""What a resource declares, once, around its pydantic model. Routes, rows, SQL and OpenAPI derive from it.

Resource(
    name="products", path="/v1/products", id_prefix="prd", table=product,
    model=ProductOut, create_schema=ProductIn, update_schema=ProductUpdate,
    permissions=Permissions.read_write(Perm.CATALOG_READ, Perm.CATALOG_WRITE),
    stored_as={"price": PRICE},                          # a field kept in other columns (else: same name)
    filters=[Filter.on("price", Op.GT, Op.LT), ...],     # opt-in per field; type from the model
    sorts=["created_at", "price"],                       # opt-in per field; column from `stored_as`
    rules=ProductRules(),
)
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Column, Index, Table

from emporium.platform.auth.perms import Perm
from emporium.platform.crud.rules import Row, Rules

__all__ = ["CachePolicy", "Condition", "Filter", "NamedQuery", "Op", "Permissions", "Resource", "Row", "StoredAs"]


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
class Condition:
    """One store-neutral condition on a column: what a filter parses into and what a named query returns."""

    column: str
    op: Op
    value: Any
    param: str = ""  # the query parameter it came from, for error messages


@dataclass(frozen=True, slots=True)
class Filter:
    """Opt a model field in as a filter: `?name=v` (eq) or `?name[op]=v`. Build with `Filter.on(...)`."""

    field: str
    ops: frozenset[Op] = frozenset({Op.EQ})
    name: str | None = None  # public name when it differs from the field (`status` for `active`)
    choices: Mapping[str, Any] | None = None  # public value -> stored value (enums, `status=active`)
    example: str | None = None
    description: str = ""

    @classmethod
    def on(cls, field_name: str, *ops: Op, **options: Any) -> Filter:
        return cls(field_name, frozenset(ops or (Op.EQ,)), **options)


@dataclass(frozen=True, slots=True)
class FilterSpec:
    """A filter resolved against the model and its columns (what the parser and the stores use)."""

    column: str
    type: type[int] | type[str] | type[bool] = str
    ops: frozenset[Op] = frozenset({Op.EQ})
    choices: Mapping[str, Any] | None = None
    example: str | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class StoredAs:
    """A model field kept in other columns than one of its own name (e.g. `price` in amount + currency)."""

    columns: tuple[str, ...]  # the first is the one filters and sorts on the field use
    key_type: type[int] | type[str] | type[bool]
    dump: Callable[[Any], Row]  # the body's value (JSON-mode) -> column values
    load: Callable[[Row], Any]  # the row -> the model's value


@dataclass(frozen=True, slots=True)
class NamedQuery:
    """A reusable, typed query exposed as `GET {path}:{name}`: params are validated by `params`."""

    params: type[BaseModel]
    where: Callable[[BaseModel], Sequence[Condition]]  # ANDed with the org scope, on any store
    description: str = ""


@dataclass(frozen=True, slots=True)
class Permissions:
    read: Perm
    create: Perm
    update: Perm
    delete: Perm

    @classmethod
    def read_write(cls, read: Perm, write: Perm) -> Permissions:
        return cls(read, write, write, write)


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """Cache reads by id (and by each `lookups` field) with versioned entries."""

    ttl_seconds: float = 60.0
    lookups: tuple[str, ...] = ()


def _scalar_type(annotation: Any) -> type | None:
    """`int`, `str`, `bool` or `datetime` from a field's annotation (`X | None` unwrapped), else None."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = inner[0] if len(inner) == 1 else None
    return annotation if annotation in (int, str, bool, datetime) else None


@dataclass(frozen=True, slots=True)
class Resource:
    name: str  # plural, used in paths, tags and operation ids: "products"
    path: str  # "/v1/products"
    id_prefix: str  # "prd"
    table: Table
    model: type[BaseModel]  # the read schema: rows map onto its fields
    create_schema: type[BaseModel]
    update_schema: type[BaseModel]
    permissions: Permissions
    stored_as: Mapping[str, StoredAs] = field(default_factory=dict)
    filters: Sequence[Filter] = ()
    sorts: Sequence[str] = ("created_at",)
    default_sort: str = "created_at"
    rules: Rules = field(default_factory=Rules)
    queries: Mapping[str, NamedQuery] = field(default_factory=dict)
    soft_delete: bool = False
    cache: CachePolicy | None = None
    create_response: Callable[[Row], BaseModel] | None = None  # e.g. to show a secret once
    filter_specs: Mapping[str, FilterSpec] = field(init=False)
    sortable: Mapping[str, str] = field(init=False)  # public sort name -> column

    def __post_init__(self) -> None:
        object.__setattr__(self, "filter_specs", {f.name or f.field: self._resolve(f) for f in self.filters})
        object.__setattr__(self, "sortable", {s: self.column_of(s) for s in self.sorts})
        for name in self.sorts:
            if self._field_type(name) is None:
                raise ValueError(f"{self.name}: sort {name!r} is not a scalar field of {self.model.__name__}")
        check_indexes(self)
        if self.default_sort.lstrip("-") not in self.sortable:
            raise ValueError(f"{self.name}: default sort {self.default_sort!r} is not a declared sort")

    @property
    def read_schema(self) -> type[BaseModel]:
        return self.model

    @property
    def singular(self) -> str:
        return self.name[:-1] if self.name.endswith("s") else self.name

    def column(self, name: str) -> Column[Any]:
        return self.table.c[name]

    def column_of(self, field_name: str) -> str:
        stored = self.stored_as.get(field_name)
        return stored.columns[0] if stored else field_name

    def _field_type(self, field_name: str) -> type | None:
        if field_name in self.stored_as:
            return self.stored_as[field_name].key_type
        info = self.model.model_fields.get(field_name)
        return _scalar_type(info.annotation) if info else None

    def _resolve(self, spec: Filter) -> FilterSpec:
        kind = str if spec.choices is not None else self._field_type(spec.field)
        if kind not in (int, str, bool):
            raise ValueError(f"{self.name}: filter {spec.field!r} is not an int, str or bool field of the model")
        column = self.column_of(spec.field)
        return FilterSpec(column, kind, spec.ops, spec.choices, spec.example, spec.description)

    def to_row(self, body: BaseModel) -> Row:
        """The fields the body sets, as column values (create and partial update)."""
        data: Row = body.model_dump(mode="json", exclude_unset=True)
        for name, stored in self.stored_as.items():
            if name in data:
                value = data.pop(name)
                data.update(stored.dump(value) if value is not None else dict.fromkeys(stored.columns))
        return data

    def from_row(self, row: Row) -> BaseModel:
        values = {
            name: self.stored_as[name].load(row) if name in self.stored_as else row[name]
            for name in self.model.model_fields
            if name in self.stored_as or name in row
        }
        return self.model.model_validate(values)


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
    for name, spec in resource.filter_specs.items():
        if spec.column != "id" and spec.column not in leading:
            raise ValueError(
                f"{resource.name}: filter {name!r} on {spec.column!r} has no (org_id, {spec.column}) index"
            )
        if Op.PREFIX in spec.ops and spec.column not in pattern:
            raise ValueError(f"{resource.name}: prefix filter {name!r} needs a text_pattern_ops index")
    for name, column in resource.sortable.items():
        if column != "id" and column not in leading:
            raise ValueError(f"{resource.name}: sort {name!r} on {column!r} has no (org_id, {column}) index")
