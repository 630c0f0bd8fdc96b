"""List queries: `?status=active&price[gte]=100&sku[in]=a,b&name[prefix]=Sh&sort=-price&limit=50&cursor=…`.

Parsing is strict: an unknown field, operator or sort, a repeated parameter or
a value of the wrong type is a 422 that names the parameter and the rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, tuple_

from emporium.platform.crud.resource import Condition, FilterSpec, Op, Resource
from emporium.platform.errors import FieldError, ValidationFailed
from emporium.platform.input_rules import INT64_MAX, INT64_MIN
from emporium.platform.pagination import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    KeyPart,
    decode_cursor,
    encode_cursor,
    invalid_cursor,
)

_PARAM = re.compile(r"^([a-z_][a-z0-9_]*)(?:\[([a-z]+)\])?$")
_INTEGER = re.compile(r"^-?[0-9]{1,19}$")  # ASCII digits only: int() takes '+5', ' 5', '5_0' too
RESERVED = frozenset({"cursor", "limit", "sort"})
MAX_IN_VALUES = 100
MAX_TEXT_FILTER = 200
# What `[in]` takes, as a regex for the OpenAPI document: 1 to 100 non-empty values (empty ones are skipped).
_IN_PATTERN = f"^,*[^,\\u0000]{{1,{MAX_TEXT_FILTER}}}(,+[^,\\u0000]{{1,{MAX_TEXT_FILTER}}}){{0,{MAX_IN_VALUES - 1}}},*$"


@dataclass(frozen=True, slots=True)
class ListQuery:
    conditions: tuple[Condition, ...]
    sort: str
    descending: bool
    cursor: str | None
    limit: int


def _invalid(param: str, rule: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        f"query parameter {param!r}: {message}", errors=[FieldError(f"query.{param}", rule, message)]
    )


def _convert(param: str, spec: FilterSpec, raw: str) -> Any:
    if spec.choices is not None:
        if raw not in spec.choices:
            raise _invalid(param, "enum", f"must be one of {', '.join(sorted(spec.choices))}")
        return spec.choices[raw]
    if spec.type is int:
        if not _INTEGER.match(raw) or not INT64_MIN <= int(raw) <= INT64_MAX:
            raise _invalid(param, "int_parsing", f"must be an integer from {INT64_MIN} to {INT64_MAX}")
        return int(raw)
    if spec.type is bool:
        if raw not in {"true", "false"}:
            raise _invalid(param, "bool_parsing", "must be true or false")
        return raw == "true"
    if len(raw) > MAX_TEXT_FILTER:
        raise _invalid(param, "string_too_long", f"must be at most {MAX_TEXT_FILTER} characters")
    return raw


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    if not _INTEGER.match(raw):
        raise _invalid("limit", "int_parsing", "must be an integer")
    value = int(raw)
    if not 1 <= value <= MAX_LIMIT:
        raise _invalid("limit", "range", f"must be from 1 to {MAX_LIMIT}")
    return value


def parse_list_query(resource: Resource, params: Iterable[tuple[str, str]]) -> ListQuery:
    seen: set[str] = set()
    conditions: list[Condition] = []
    reserved: dict[str, str] = {}
    for key, raw in params:
        if key in seen:
            raise _invalid(key, "duplicate", "may appear only once")
        seen.add(key)
        if key in RESERVED:
            reserved[key] = raw
            continue
        match = _PARAM.match(key)
        if match is None or match.group(1) not in resource.filter_specs:
            allowed = ", ".join(sorted(resource.filter_specs)) or "none"
            raise _invalid(key, "unknown_filter", f"is not a filter of {resource.name} (filters: {allowed})")
        name, op_name = match.group(1), match.group(2) or Op.EQ.value
        spec = resource.filter_specs[name]
        try:
            op = Op(op_name)
        except ValueError:
            raise _invalid(key, "unknown_operator", f"{op_name!r} is not an operator") from None
        if op not in spec.ops:
            allowed = ", ".join(sorted(o.value for o in spec.ops))
            raise _invalid(key, "operator_not_allowed", f"{name} accepts only: {allowed}")
        if op is Op.IN:
            parts = [p for p in raw.split(",") if p != ""]
            if not parts or len(parts) > MAX_IN_VALUES:
                raise _invalid(key, "in_size", f"must list 1 to {MAX_IN_VALUES} comma-separated values")
            value: Any = [_convert(key, spec, p) for p in parts]
        else:
            value = _convert(key, spec, raw)
        conditions.append(Condition(spec.column, op, value, key))

    sort_raw = reserved.get("sort", resource.default_sort)
    descending = sort_raw.startswith("-")
    sort = sort_raw.lstrip("-")
    if sort not in resource.sortable:
        options = ", ".join(sorted(resource.sortable))
        raise _invalid("sort", "unknown_sort", f"sort by one of {options}, with '-' for descending")
    cursor = reserved.get("cursor") or None
    if cursor is not None and len(cursor) > 1024:
        raise _invalid("cursor", "invalid_cursor", "is not a cursor this API issued")
    return ListQuery(tuple(conditions), sort, descending, cursor, _limit(reserved.get("limit")))


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def where_clauses(table: Table, conditions: Sequence[Condition]) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    for c in conditions:
        column = table.c[c.column]
        clause = {
            Op.EQ: lambda col, v: col == v,
            Op.NE: lambda col, v: col != v,
            Op.GT: lambda col, v: col > v,
            Op.GTE: lambda col, v: col >= v,
            Op.LT: lambda col, v: col < v,
            Op.LTE: lambda col, v: col <= v,
            Op.IN: lambda col, v: col.in_(v),
            Op.PREFIX: lambda col, v: col.like(_escape_like(v) + "%", escape="\\"),
        }[c.op](column, c.value)
        clauses.append(clause)
    return clauses


def _key_value(value: Any) -> KeyPart:
    return value.isoformat() if isinstance(value, datetime) else value


def cursor_for(query: ListQuery, sort_value: Any, row_id: str) -> str:
    return encode_cursor([query.sort, _key_value(sort_value), row_id])


def keyset_position(resource: Resource, query: ListQuery) -> tuple[Any, str] | None:
    """The cursor's (sort value, id), typed like the sort column; None on the first page."""
    if query.cursor is None:
        return None
    sort_name, raw_value, last_id = decode_cursor(query.cursor, 3)
    if sort_name != query.sort:
        raise _invalid("cursor", "cursor_sort_mismatch", "was issued for another sort order")
    column = resource.table.c[resource.sortable[query.sort]]
    value = _cursor_value(raw_value, column.type.python_type)
    if not isinstance(last_id, str):
        raise invalid_cursor()
    return value, last_id


def keyset_clause(resource: Resource, query: ListQuery) -> ColumnElement[bool] | None:
    position = keyset_position(resource, query)
    if position is None:
        return None
    column = resource.table.c[resource.sortable[query.sort]]
    key = tuple_(column, resource.table.c.id)
    after = tuple_(position[0], position[1])
    return key < after if query.descending else key > after


def _cursor_value(raw: KeyPart, python_type: type) -> Any:
    """The cursor's sort value as the column's type; a hand-made cursor with another type is a 422, not a SQL error."""
    if python_type is datetime:
        if isinstance(raw, str):
            try:
                return datetime.fromisoformat(raw)
            except ValueError:
                pass
    elif python_type is bool:
        if isinstance(raw, bool):
            return raw
    elif python_type is int:
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
    elif python_type is str and isinstance(raw, str):
        return raw
    raise invalid_cursor()


def openapi_parameters(resource: Resource) -> list[dict[str, Any]]:
    """Typed, documented query parameters for the list route (FastAPI cannot infer `name[op]`)."""
    json_type = {int: "integer", str: "string", bool: "boolean"}
    params: list[dict[str, Any]] = []
    for name, spec in sorted(resource.filter_specs.items()):
        for op in sorted(spec.ops):
            key = name if op is Op.EQ else f"{name}[{op.value}]"
            schema: dict[str, Any] = {"type": json_type[spec.type]}
            if spec.type is str:
                schema["maxLength"] = MAX_TEXT_FILTER
            if spec.choices is not None:
                schema = {"type": "string", "enum": sorted(spec.choices)}
            if op is Op.IN:
                schema = {
                    "type": "string",
                    "pattern": _IN_PATTERN,
                    "description": f"comma-separated, 1 to {MAX_IN_VALUES} values",
                }
            param: dict[str, Any] = {
                "name": key,
                "in": "query",
                "required": False,
                "schema": schema,
                "description": f"{spec.description or name} ({op.value})".strip(),
            }
            if spec.example is not None:
                param["example"] = spec.example if op is not Op.IN else f"{spec.example},{spec.example}2"
            params.append(param)
    sorts = sorted(resource.sortable)
    params += [
        {
            "name": "sort",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "enum": sorts + [f"-{s}" for s in sorts], "default": resource.default_sort},
            "description": "Sort field; prefix with '-' for descending. Ties are broken by id.",
        },
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
        },
        {
            "name": "cursor",
            "in": "query",
            "required": False,
            "schema": {"type": "string"},
            "description": "The `next_cursor` of the previous page, unchanged.",
        },
    ]
    return params
