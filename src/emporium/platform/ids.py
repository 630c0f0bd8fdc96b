"""Prefixed KSUIDs: `new_id("ord")` -> "ord_2HsL...".

A KSUID is 20 bytes (a 4-byte timestamp then 16 random bytes) written as 27
base62 characters, so ids sort roughly by creation time and never collide
across replicas without coordination. The prefix tells a reader what the id
names, and lets an API reject an id of the wrong kind before any query.
"""

from __future__ import annotations

import re

from ksuid import Ksuid

_PREFIX = re.compile(r"^[a-z]{2,8}$")
_BODY_LENGTH = 27
_BASE62 = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def new_id(prefix: str) -> str:
    if not _PREFIX.match(prefix):
        raise ValueError(f"id prefix must be 2-8 lowercase letters, got {prefix!r}")
    return f"{prefix}_{Ksuid()}"


def is_id(value: str, prefix: str) -> bool:
    """True when `value` is a well-formed id with this prefix (no database lookup)."""
    head, sep, body = value.partition("_")
    if head != prefix or not sep or len(body) != _BODY_LENGTH or not _BASE62.issuperset(body):
        return False
    try:
        Ksuid.from_base62(body)
    except ValueError:
        return False
    return True
