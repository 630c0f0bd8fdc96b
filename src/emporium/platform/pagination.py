"""Keyset (cursor) pagination: opaque cursors that carry the last row's sort key.

Pages never skip or repeat a row while others are inserted, and a deep page
costs the same as the first (no OFFSET). The cursor is base64url JSON; a
cursor that does not decode is a 422 naming the `cursor` parameter.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from emporium.platform.errors import FieldError, ValidationFailed

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
    if not isinstance(key, list) or len(key) != arity or not all(isinstance(k, KeyPart) for k in key):
        raise ValidationFailed(
            "the cursor is not one this API issued",
            errors=[FieldError("cursor", "invalid_cursor", "pass back the next_cursor of a previous page unchanged")],
        )
    return key


def page_of(rows: list[T], limit: int, key_of: Callable[[T], Sequence[KeyPart]]) -> Page[T]:
    """`rows` was fetched with LIMIT limit+1: the extra row only says a next page exists."""
    if len(rows) > limit:
        items = rows[:limit]
        return Page(items, encode_cursor(key_of(items[-1])))
    return Page(rows, None)
