"""What building a SQLAlchemy Core statement per call costs, against one built once (decision 020).

    .venv/bin/python -m bench.statement_build

No database: it times what happens in Python before a statement reaches the driver, i.e. constructing
the expression and computing the cache key SQLAlchemy looks its compiled form up by. The idempotency
claim (one per checkout) as it was built per call, against `store._CLAIM`, whose key is memoised.
"""

from __future__ import annotations

import timeit

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert

from emporium.platform.idempotency import store
from emporium.platform.idempotency.tables import idempotency_key


def per_call() -> object:
    statement = (
        insert(idempotency_key)
        .values(
            org_id="org", key="key", fingerprint="f", status="in_flight", resource_id="ord",
            expires_at=func.now() + store.RETENTION,
        )
        .on_conflict_do_nothing(index_elements=["org_id", "key"])
        .returning(idempotency_key.c.key)
    )  # fmt: skip
    return statement._generate_cache_key()


def built_once() -> object:
    return store._CLAIM._generate_cache_key()


if __name__ == "__main__":
    runs = 5000
    for case in (per_call, built_once):
        seconds = timeit.timeit(case, number=runs) / runs
        print(f"{case.__name__}: {seconds * 1e6:.1f} µs per call")
