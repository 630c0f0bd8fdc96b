"""The outbox backlog, sampled every couple of seconds per process: load shedding reads it per request."""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from emporium.platform.db.engine import Database
from emporium.platform.events import workflows

_log = structlog.stdlib.get_logger("emporium.events")


class BacklogSampler:
    def __init__(self, db: Database, every_seconds: float = 2.0) -> None:
        self.db = db
        self.every_seconds = every_seconds
        self.size = 0
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    async def sample(self) -> int:
        self.size = (await workflows.backlog(self.db)).size
        return self.size

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await self.sample()
            except Exception:  # the database is away: keep the last value, try again
                _log.debug("backlog_sample_failed", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self.every_seconds)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-backlog-sampler")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
