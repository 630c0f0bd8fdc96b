"""Prefixed KSUIDs: `new_id("ord")` -> "ord_2HsL...".

A KSUID is 20 bytes (a 4-byte timestamp then 16 random bytes) written as 27
base62 characters, so ids sort roughly by creation time and never collide
across replicas without coordination. The prefix tells a reader what the id
names, and lets an API reject an id of the wrong kind before any query.
"""

from __future__ import annotations

import os
import re
import time

from ksuid import Ksuid

_PREFIX = re.compile(r"^[a-z]{2,8}$")
_BODY_LENGTH = 27
_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BASE62 = frozenset(_DIGITS)
_KSUID_EPOCH = 1_400_000_000  # KSUID's own epoch (2014-05-13), as the `ksuid` package counts
# Base62 two digits at a time: a checkout makes about ten ids, and `str(Ksuid())` converts one digit
# per big-integer division (~4x slower); `test_ids` checks both spell an id the same way.
_PAIRS = [a + b for a in _DIGITS for b in _DIGITS]


def ksuid_body(timestamp: int, payload: bytes) -> str:
    """The 27 base62 characters of the KSUID made of this timestamp (Unix seconds) and 16 random bytes."""
    n = ((timestamp - _KSUID_EPOCH) << 128) | int.from_bytes(payload, "big")
    pairs = []
    for _ in range(13):
        n, pair = divmod(n, 3844)
        pairs.append(_PAIRS[pair])
    pairs.append(_DIGITS[n])
    return "".join(reversed(pairs))


def new_id(prefix: str) -> str:
    if not _PREFIX.match(prefix):
        raise ValueError(f"id prefix must be 2-8 lowercase letters, got {prefix!r}")
    return f"{prefix}_{ksuid_body(int(time.time()), os.urandom(16))}"


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
