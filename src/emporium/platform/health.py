"""Readiness: the database answers and its schema is at the code's head revision."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text

from emporium.platform.db import standalone
from emporium.platform.db.engine import Database
from emporium.platform.db.migrate import VERSION_TABLE_SCHEMA

_CURRENT_REVISION = f'SELECT version_num FROM "{VERSION_TABLE_SCHEMA}".alembic_version'  # noqa: S608 (a constant)


@dataclass(frozen=True, slots=True)
class Readiness:
    ready: bool
    reason: str


async def check_readiness(db: Database, expected_revision: str | None) -> Readiness:
    try:
        async with standalone.autocommit(db) as conn:
            revision = await conn.scalar(text(_CURRENT_REVISION))
    except Exception as error:  # any failure to read means "not ready", never a 500
        return Readiness(False, f"database not reachable or not migrated: {type(error).__name__}")
    if revision != expected_revision:
        return Readiness(False, f"database schema at {revision!r}, code expects {expected_revision!r}")
    return Readiness(True, "ok")
