"""Wiring: the long-lived resources of one worker process, opened in order and
closed in reverse order of creation.

`main.py` reads the environment; this module turns a `Config` (plus the
database URL the serving process resolved) into live clients.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from emporium.config import Config
from emporium.platform.db.engine import Database, PoolSettings
from emporium.platform.db.migrate import head_revision


@dataclass(frozen=True, slots=True)
class Runtime:
    config: Config
    db: Database
    expected_revision: str | None


@asynccontextmanager
async def open_runtime(config: Config, database_url: str) -> AsyncIterator[Runtime]:
    async with AsyncExitStack() as stack:
        db = Database(database_url, PoolSettings(size=config.db_pool_size, timeout=config.db_pool_timeout))
        stack.push_async_callback(db.dispose)
        yield Runtime(config=config, db=db, expected_revision=head_revision())
