"""The outbox backlog, sampled every couple of seconds per process, at a cost that does not grow with it.

Counting undelivered rows costs in proportion to the backlog (52 ms at 62k rows, issue 21), and a
backlog is exactly when the database must not be given more work by the thing that watches it. So
one sample is two index lookups, whatever the size:

- the newest `seq` (the primary key's last entry) and
- the oldest undelivered event (the first entry of the partial index `ix_outbox_pending`, and its
  `occurred_at`: one heap fetch).

Their distance is the backlog's size as an upper bound: events delivered out of order behind the
oldest pending one, and sequence numbers taken by rolled-back publishes, are counted too. The oldest
event's age says how late deliveries are, and the head's movement between samples says whether
anyone is delivering: the head moves forward as consumers work; it stands still when they are gone.
From these, `assess` decides the pressure load shedding acts on (decision 018).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from sqlalchemy import text

from emporium.platform.db import standalone
from emporium.platform.db.engine import Database

_log = structlog.stdlib.get_logger("emporium.events")

# Both lookups read one index entry each; LATERAL keeps it one statement (one round trip).
_SAMPLE = text(
    """
    SELECT (SELECT max(seq) FROM platform.outbox) AS last_seq,
           head.seq AS head_seq,
           greatest(0, extract(epoch FROM now() - head.occurred_at))::float8 AS oldest_age
    FROM (SELECT 1) AS one
    LEFT JOIN LATERAL (
        SELECT seq, occurred_at FROM platform.outbox WHERE delivered_at IS NULL ORDER BY seq LIMIT 1
    ) AS head ON true
    """
)


# Dead letters stay few (each is an operator's to-do), so counting them is cheap, unlike the outbox.
_DEAD_LETTERS = text("SELECT count(*) FROM platform.dead_letter WHERE replayed_at IS NULL")


class Pressure(enum.IntEnum):
    """What the backlog means, in increasing order of what load shedding refuses (decision 018)."""

    NONE = 0
    BEHIND = 1  # large or old, and consumers are delivering: shed browsing
    STALLED = 2  # large or old, and nobody has delivered for a while: shed browsing and non-critical writes
    DANGER = 3  # so large the database itself is at risk: shed checkout too


@dataclass(frozen=True, slots=True)
class BacklogSettings:
    shed_threshold: int = 50_000  # estimated undelivered events that count as a backlog
    shed_age_seconds: float = 300.0  # ... or an oldest undelivered event this old
    stall_seconds: float = 60.0  # no delivery progress this long, with a backlog: consumers are gone
    danger_threshold: int = 10_000_000  # estimated undelivered events at which checkout is shed too
    every_seconds: float = 2.0


@dataclass(frozen=True, slots=True)
class Reading:
    """One sample. `size` is an upper bound (see the module docstring); 0 means nothing is pending."""

    size: int
    oldest_age_seconds: float
    head_seq: int | None  # the oldest undelivered event's seq; None when nothing is pending
    taken_at: float  # monotonic seconds


def assess(reading: Reading, settings: BacklogSettings, last_progress_at: float) -> Pressure:
    """The pressure for one reading; `last_progress_at` is when the head last moved (monotonic)."""
    if reading.head_seq is None:
        return Pressure.NONE
    if reading.size >= settings.danger_threshold:
        return Pressure.DANGER
    if reading.size < settings.shed_threshold and reading.oldest_age_seconds < settings.shed_age_seconds:
        return Pressure.NONE
    if reading.taken_at - last_progress_at >= settings.stall_seconds:
        return Pressure.STALLED
    return Pressure.BEHIND


async def read(db: Database, clock: Callable[[], float] = time.monotonic) -> Reading:
    """One sample: a single read-only statement on two indexes."""
    async with standalone.autocommit(db) as conn:
        row = (await conn.execute(_SAMPLE)).one()
    head = None if row.head_seq is None else int(row.head_seq)
    size = 0 if head is None or row.last_seq is None else int(row.last_seq) - head + 1
    return Reading(size, float(row.oldest_age or 0.0) if head is not None else 0.0, head, clock())


async def dead_letters(db: Database) -> int:
    """Dead letters not yet replayed (for the /metrics gauge)."""
    async with standalone.autocommit(db) as conn:
        return int((await conn.execute(_DEAD_LETTERS)).scalar_one())


class BacklogSampler:
    """Samples the backlog in the background; the request path reads `pressure` (no I/O per request)."""

    def __init__(
        self,
        db: Database,
        every_seconds: float | None = None,
        settings: BacklogSettings = BacklogSettings(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.settings = settings
        self.every_seconds = settings.every_seconds if every_seconds is None else every_seconds
        self._clock = clock
        self.reading = Reading(0, 0.0, None, clock())
        self.pressure = Pressure.NONE
        self.delivery_rate = 0.0  # events/s the head advanced over the last interval (an estimate)
        self._last_progress_at = clock()
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    @property
    def size(self) -> int:
        return self.reading.size

    def observe(self, reading: Reading) -> Pressure:
        """Take a new reading: update the delivery rate, when progress was last seen, and the pressure."""
        previous = self.reading
        moved = reading.head_seq is None or (previous.head_seq is not None and reading.head_seq > previous.head_seq)
        if previous.head_seq is None and reading.head_seq is not None:
            moved = False  # a backlog has just begun: its clock starts now, not at the sampler's start
            self._last_progress_at = reading.taken_at
        if moved:
            self._last_progress_at = reading.taken_at
        elapsed = reading.taken_at - previous.taken_at
        if reading.head_seq is not None and previous.head_seq is not None and elapsed > 0:
            self.delivery_rate = max(0, reading.head_seq - previous.head_seq) / elapsed
        else:
            self.delivery_rate = 0.0
        self.reading = reading
        self.pressure = assess(reading, self.settings, self._last_progress_at)
        return self.pressure

    async def sample(self) -> Reading:
        reading = await read(self.db, self._clock)
        before = self.pressure
        if self.observe(reading) != before:
            _log.warning(
                "outbox_pressure_changed",
                pressure=self.pressure.name.lower(),
                was=before.name.lower(),
                backlog=reading.size,
                oldest_age_seconds=round(reading.oldest_age_seconds, 1),
                delivery_rate=round(self.delivery_rate, 1),
            )
        return reading

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
