"""Which real servers the tests use, decided once.

Under CI=true the suite uses the PostgreSQL, Redis and NATS already running on
the machine, and any skip is a failure. Elsewhere, PostgreSQL is the embedded
one unless TEST_DATABASE_URL is set, and Redis/NATS/MariaDB tests run only when
TEST_REDIS_URL / TEST_NATS_URL / TEST_MARIADB_URL are set (they skip, saying why, otherwise).
"""

from __future__ import annotations

import os
from pathlib import Path

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
ROOT = Path(__file__).resolve().parent.parent

CI_DEFAULTS = {
    "TEST_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/postgres",
    "TEST_REDIS_URL": "redis://127.0.0.1:6379/0",
    "TEST_NATS_URL": "nats://127.0.0.1:4222",
    # The reporting store's second dialect: the MariaDB server on the machine (the tests create and drop their
    # own database on it). SQL Server has no CI default: none can run here (TEST_MSSQL_URL, see README).
    "TEST_MARIADB_URL": "mysql://root@127.0.0.1:3306",
}


def configured(name: str) -> str | None:
    value = os.environ.get(name) or (CI_DEFAULTS.get(name) if IN_CI else None)
    return value or None


# `make soak` (SOAK=true) runs the volume tests at full size; `make test` runs them smaller, proving the
# same properties on fewer items so the whole suite stays quick. CI runs both.
SOAK = os.environ.get("SOAK", "").lower() in {"1", "true", "yes"}


def scaled(normal: int, soak: int) -> int:
    """How many items a volume test uses: `soak` under `make soak`, `normal` otherwise."""
    return soak if SOAK else normal
