"""Periodic jobs inside `serve` (or a worker): each tick of each job runs on one replica at a time.

A job's tick runs only while its instance holds a PostgreSQL advisory lock
named after the job, so N replicas run it once per interval between them.
(Coordinated Redis locks and recorded runs come with the resilience work.)
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from sqlalchemy import func, select

from emporium.platform.db.engine import Database

_log = structlog.stdlib.get_logger("emporium.cron")


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    every_seconds: float
    run: Callable[[], Awaitable[object]]


def _lock_id(name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"cron:{name}".encode()).digest()[:8], "big", signed=True)


class Scheduler:
    def __init__(self, db: Database, jobs: list[Job]) -> None:
        self.db = db
        self.jobs = jobs
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def tick(self, job: Job) -> bool:
        """Run one tick of `job` unless another replica is running it; True if it ran here."""
        async with self.db.engine.connect() as conn, conn.begin():
            if not await conn.scalar(select(func.pg_try_advisory_xact_lock(_lock_id(job.name)))):
                return False
            try:
                result = await job.run()
                _log.info("job_ran", job=job.name, result=str(result))
            except Exception:
                _log.exception("job_failed", job=job.name)
            return True

    async def _loop(self, job: Job) -> None:
        while not self._stopping.is_set():
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=job.every_seconds)
            except TimeoutError:
                try:
                    await self.tick(job)
                except Exception:  # the database is away: try again next interval
                    _log.exception("job_tick_failed", job=job.name)

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._loop(job), name=f"cron:{job.name}") for job in self.jobs]

    async def stop(self) -> None:
        self._stopping.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
