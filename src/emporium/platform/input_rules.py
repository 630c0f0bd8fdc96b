"""What every stored value must satisfy, whatever its field: the rules the edge and the cursors share.

PostgreSQL refuses NUL in `text` and `jsonb` and cannot encode an unpaired
UTF-16 surrogate; every integer column is at most a BIGINT. Input breaking
these rules is refused before it reaches a query (decision 016).
"""

from __future__ import annotations

import re

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable_text(value: str) -> str | None:
    """Why `value` cannot be stored as text, or None when it can."""
    found = _UNSTORABLE.search(value)
    if found is None:
        return None
    return "must not contain NUL characters" if found.group() == "\x00" else "must not contain unpaired surrogates"
