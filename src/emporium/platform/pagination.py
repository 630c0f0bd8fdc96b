"""Keyset (cursor) pagination: opaque cursors that carry the last row's sort key.

Pages never skip or repeat a row while others are inserted, and a deep page
costs the same as the first (no OFFSET). The cursor is base64url JSON and is
fully validated on the way back in (decision 016): it must decode to a list of
the expected length whose parts are strings PostgreSQL can store, 64-bit
integers, finite numbers, booleans or null. Anything else is a 422 naming the
`cursor` parameter; the callers then check each part's type against its column.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from emporium.platform.errors import FieldError, ValidationFailed
from emporium.platform.input_rules import INT64_MAX, INT64_MIN, unstorable_text

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

T = TypeVar("T")
KeyPart = str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(key: Sequence[KeyPart]) -> str:
    raw = json.dumps(list(key), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str, arity: int) -> list[KeyPart]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (binascii.Error, ValueError, UnicodeError):
        key = None
    if not isinstance(key, list) or len(key) != arity or not all(_valid_part(k) for k in key):
        raise invalid_cursor()
    return key


def invalid_cursor() -> ValidationFailed:
    return ValidationFailed(
        "the cursor is not one this API issued",
        errors=[FieldError("cursor", "invalid_cursor", "pass back the next_cursor of a previous page unchanged")],
    )


def _valid_part(part: object) -> bool:
    if part is None or isinstance(part, bool):
        return True
    if isinstance(part, int):
        return INT64_MIN <= part <= INT64_MAX
    if isinstance(part, float):
        return math.isfinite(part)
    return isinstance(part, str) and len(part) <= 512 and unstorable_text(part) is None


def page_of(rows: list[T], limit: int, key_of: Callable[[T], Sequence[KeyPart]]) -> Page[T]:
    """`rows` was fetched with LIMIT limit+1: the extra row only says a next page exists."""
    if len(rows) > limit:
        items = rows[:limit]
        return Page(items, encode_cursor(key_of(items[-1])))
    return Page(rows, None)
