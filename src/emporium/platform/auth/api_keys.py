"""API key format: `emp_live_<40 base62 characters><6-character checksum>`.

The prefix makes a leaked key recognisable (secret scanners can match it),
the CRC32 checksum lets us refuse a mistyped or truncated key without a
database lookup, and only the SHA-256 of the whole key is ever stored: the
secret carries 238 bits of entropy, so a fast hash is enough (no password
stretching is needed for random secrets).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import zlib

KEY_PREFIX = "emp_live_"
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ALPHABET_SET = frozenset(_ALPHABET)
_SECRET_LENGTH = 40
_CHECKSUM_LENGTH = 6
KEY_LENGTH = len(KEY_PREFIX) + _SECRET_LENGTH + _CHECKSUM_LENGTH
DISPLAY_LENGTH = len(KEY_PREFIX) + 6  # what listings show: enough to tell keys apart, useless to an attacker


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, rem = divmod(number, 62)
        digits.append(_ALPHABET[rem])
    return "".join(reversed(digits))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode("ascii")), _CHECKSUM_LENGTH)


def generate_api_key() -> str:
    secret = "".join(secrets.choice(_ALPHABET) for _ in range(_SECRET_LENGTH))
    body = KEY_PREFIX + secret
    return body + _checksum(body)


def looks_like_api_key(token: str) -> bool:
    return token.startswith("emp_")


def is_well_formed_api_key(token: str) -> bool:
    if len(token) != KEY_LENGTH or not token.startswith(KEY_PREFIX):
        return False
    body, check = token[:-_CHECKSUM_LENGTH], token[-_CHECKSUM_LENGTH:]
    if not _ALPHABET_SET.issuperset(token[len(KEY_PREFIX) :]):
        return False
    return hmac.compare_digest(_checksum(body), check)


def hash_api_key(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def display_prefix(token: str) -> str:
    return token[:DISPLAY_LENGTH]
