"""Periodic jobs inside `serve` (or alone in `emporium cron`): each tick of each job runs once across replicas.

A tick is the interval slot `floor(now / every)`. With Redis, a replica claims
`emp:cron:<job>:<slot>` with `SET NX PX` (a random token as value) and runs
the tick only if the claim is its own; the key simply expires, so a replica
with a late clock cannot run the same slot again. When a replica stops before
running a claimed tick, it releases the claim only if the token is still its
own (a Lua check), so another replica can take the slot. Every run is
recorded in `platform.job_run` (start, end, outcome), whose unique
(job, slot) is also the claim when there is no Redis (or it is down), and
listed by `emporium cron runs`.
"""

from __future__ import annotations

import asyncio
import math
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from emporium.platform.cron_runs import record_run_end, record_run_start
from emporium.platform.db.engine import Database

_log = structlog.stdlib.get_logger("emporium.cron")

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    every_seconds: float
    run: Callable[[], Awaitable[object]]


def slot_of(every_seconds: float, now: float) -> int:
    return math.floor(now / every_seconds)


class Scheduler:
    def __init__(
        self, db: Database, jobs: list[Job], redis: Redis | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.db = db
        self.jobs = jobs
        self.redis = redis
        self.clock = clock
        self.instance = secrets.token_hex(6)
        self._release = redis.register_script(_RELEASE) if redis is not None else None
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def _claim(self, job: Job, slot: int, token: str) -> bool | None:
        """True: this replica owns the tick; False: another does; None: Redis unavailable."""
        assert self.redis is not None
        key = f"emp:cron:{job.name}:{slot}"
        try:
            return bool(await self.redis.set(key, token, nx=True, px=max(1000, int(job.every_seconds * 2000))))
        except (RedisError, OSError, TimeoutError):
            _log.warning("cron_redis_unavailable", job=job.name)
            return None

    async def _run_recorded(self, job: Job, slot: int) -> bool:
        run_id = await record_run_start(self.db, job.name, slot, self.instance)
        if run_id is None:
            return False  # another replica recorded this slot first
        try:
            result = await job.run()
        except Exception as error:
            _log.exception("job_failed", job=job.name, slot=slot)
            outcome, detail = "failed", f"{type(error).__name__}: {error}"
        else:
            outcome, detail = "succeeded", str(result)
        # One line per tick that ran, on whichever replica ran it: the cluster's logs show each tick once.
        # A routine success is debug (a tick every 10 s would flood a terminal); anything else is info.
        log = _log.debug if outcome == "succeeded" else _log.info
        log("cron_tick_ran", job=job.name, slot=slot, instance=self.instance, outcome=outcome)
        await record_run_end(self.db, run_id, outcome, detail[:1000])
        return True

    async def tick(self, job: Job, slot: int | None = None) -> bool:
        """Run `slot` (default: the current one) of `job` unless another replica has it; True if it ran here."""
        slot = slot_of(job.every_seconds, self.clock()) if slot is None else slot
        if self.redis is not None:
            token = secrets.token_hex(16)
            claimed = await self._claim(job, slot, token)
            if claimed is False:
                return False
            if claimed is True:
                if self._stopping.is_set() and self._release is not None:  # stopping: hand the slot back
                    await self._release(keys=[f"emp:cron:{job.name}:{slot}"], args=[token])
                    return False
                return await self._run_recorded(job, slot)
        return await self._run_recorded(job, slot)  # no Redis (or it is down): the recorded slot is the claim

    async def _loop(self, job: Job) -> None:
        while not self._stopping.is_set():
            # The slot is chosen before waiting for its boundary: a wake-up delayed past the next boundary
            # (a busy event loop) still runs the slot it waited for instead of skipping it.
            now = self.clock()
            slot = slot_of(job.every_seconds, now) + 1
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=max(0.0, slot * job.every_seconds - now))
            except TimeoutError:
                try:
                    await self.tick(job, slot)
                except Exception:  # the database is away: try again next slot
                    _log.exception("job_tick_failed", job=job.name)

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._loop(job), name=f"cron:{job.name}") for job in self.jobs]

    async def stop(self) -> None:
        """Stop at a safe point: a running tick finishes; no new tick starts."""
        self._stopping.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
