"""Request and response shapes shared by every module's API.

Request bodies are strict (decision 016): JSON types are taken as sent, so
`"5"` is not 5, `true` is not 1 cent, `0` is not false, and a number is not a
date. Strings are stored as sent, so a length limit is checked on exactly what
is stored (nothing is trimmed first). Enumerations and timestamps, which JSON
can only carry as strings, are declared with `EnumText` and `Timestamp`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    Strict,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from emporium.platform.money import CURRENCY_EXPONENTS

T = TypeVar("T")

_ISO_8601 = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$", re.IGNORECASE)


class PageOut(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="Pass as `cursor` to get the next page; null on the last page.")


class Body(BaseModel):
    """Every request body: unknown fields are a 422 naming them (no mass assignment); strict JSON types."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _integral_numbers(cls, data: Any) -> Any:
        """`2.0` is the integer 2 in JSON (and JSON Schema): strict mode alone would refuse it; `2.5` stays refused."""
        return _integral(data)


def _integral(value: Any) -> Any:
    """`value` with each integral float made an int. A container is copied only when something in it
    changes: a body walked by every nested model's validator again is mostly left as it is."""
    kind = value.__class__
    if kind is float:
        return int(value) if value.is_integer() and abs(value) < 2**63 else value
    if kind is dict or kind is list:
        copy = None
        for key, item in value.items() if kind is dict else enumerate(value):
            if item.__class__ in _WALKED and (made := _integral(item)) is not item:
                if copy is None:
                    copy = kind(value)
                copy[key] = made
        return value if copy is None else copy
    return value


_WALKED = frozenset({float, dict, list})


def _supported_currency(value: str) -> str:
    if value not in CURRENCY_EXPONENTS:
        raise ValueError("must be an ISO 4217 currency code this service supports, e.g. EUR")
    return value


Currency = Annotated[
    str,
    AfterValidator(_supported_currency),
    WithJsonSchema({"type": "string", "enum": sorted(CURRENCY_EXPONENTS), "examples": ["EUR"]}),
]
"""An ISO 4217 code the money helpers know; the document lists them."""


def _timestamp_text(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_8601.match(value):
        raise ValueError("must be an RFC 3339 timestamp with an offset, e.g. 2027-01-01T00:00:00Z")
    return value


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("must include a timezone offset, e.g. 2027-01-01T00:00:00Z")
    return value


Timestamp = Annotated[
    datetime,
    Strict(False),
    BeforeValidator(_timestamp_text),
    AfterValidator(_aware),
    WithJsonSchema({"type": "string", "format": "date-time", "examples": ["2027-01-01T00:00:00Z"]}),
]
"""An RFC 3339 timestamp with an offset, in a body or a query string; numbers and naive times are refused."""


@dataclass(frozen=True)
class EnumText:
    """`Annotated[MyEnum, Strict(False), EnumText(allowed)]`: takes only the strings in `allowed`, documents only those.

    Strict mode would want an enum instance, which JSON cannot carry; lax mode alone
    would take any member, including ones the server refuses on this field.
    """

    allowed: frozenset[Any] | None = None

    def values(self, enum: type[Enum]) -> list[str]:
        return sorted(str(v.value) for v in (self.allowed if self.allowed is not None else enum))

    def __get_pydantic_core_schema__(self, source: type[Enum], handler: GetCoreSchemaHandler) -> CoreSchema:
        values = self.values(source)

        def only_allowed(value: Enum) -> Enum:
            if str(value.value) not in values:
                raise ValueError(f"must be one of {', '.join(values)}")
            return value

        return core_schema.no_info_before_validator_function(
            _string_only, core_schema.no_info_after_validator_function(only_allowed, handler(source))
        )

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        enum = self._enum_of(schema)
        return {"type": "string", "enum": self.values(enum)} if enum else handler(schema)

    @staticmethod
    def _enum_of(schema: Any) -> type[Enum] | None:
        while isinstance(schema, dict):
            if schema.get("type") == "enum":
                cls = schema.get("cls")
                return cls if isinstance(cls, type) and issubclass(cls, Enum) else None
            schema = schema.get("schema")
        return None


def _string_only(value: Any) -> Any:
    if isinstance(value, Enum | str):
        return value
    raise ValueError("must be a string")
