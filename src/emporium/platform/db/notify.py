"""Wake-ups for listeners (the outbox dispatchers): one NOTIFY per merge window per process, never one per commit.

A `pg_notify` inside a transaction makes its COMMIT take PostgreSQL's notify-queue lock, held until the
commit record is flushed: notifying transactions on the server commit one after another (decision 021:
2 events per transaction, 8 clients: 35-65% fewer commits/s when every transaction notifies). So a
transaction only *asks* for a wake-up (`Tx.notify_after_commit`), and `CommitNotifier` decides who sends
it (decision 040):

- **In the transaction itself**, when the process has sent no NOTIFY for `MERGE_WINDOW` and the
  transaction ends with its deferred-writes statement: the NOTIFY rides in that statement (no round trip,
  no transaction of its own). The lock is then taken by at most one transaction per window per process,
  which nothing else waits behind. It also carries the wake-ups other commits asked for until then.
- **After the commit, merged**, otherwise: the notifier sends `SELECT pg_notify(...)` on a connection of
  its own (outside the pool, autocommit: one round trip) once the earliest asked-for deadline comes, and
  that one NOTIFY serves every commit asked for by then. A busy process sends ~1/MERGE_WINDOW per second.

A wake-up may also be asked to wait (`request(..., within=...)`): a checkout's first transaction lets its
wake-up wait for the checkout's last one, which carries it, so a checkout costs no NOTIFY transaction.
Whatever is still due when its deadline comes is sent then.

Nothing is sent for a rollback. A process that dies between its COMMIT and the NOTIFY loses the wake-up,
not the data: listeners also poll (decision 005), as they must for a lost listener connection anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Iterable
from dataclasses import dataclass

import asyncpg
import structlog

_log = structlog.get_logger(__name__)

# How long a wake-up waits for others to share its NOTIFY. Listeners poll every second anyway
# (EVENTS_POLL_INTERVAL); 10 ms more before a dispatcher wakes is noise next to that, and caps a
# process at ~100 NOTIFY transactions/s (decision 021 measures one per ~2 commits without it).
MERGE_WINDOW = 0.01
# Longest wait for one NOTIFY round trip, and for the last one at shutdown (the database may be gone).
_CLOSE_WAIT = 2.0


@dataclass(frozen=True, slots=True)
class InlineWakeup:
    """The channels a transaction NOTIFYs in its own last statement, and when that was decided: wake-ups
    asked for before then (by commits already done) are served by it once it commits."""

    channels: tuple[str, ...]
    decided_at: float


@dataclass(slots=True)
class _Due:
    deadline: float  # the earliest deadline asked for this channel
    asked_at: float  # the latest time it was asked for


class CommitNotifier:
    """One per `Database`: decides who sends the NOTIFYs its committed transactions asked for, and sends
    the merged ones in the background, on a connection of its own."""

    def __init__(self, dsn: str, application_name: str, *, merge_window: float = MERGE_WINDOW) -> None:
        self._dsn = dsn
        self._merge_window = merge_window
        self._application_name = application_name
        self._conn: asyncpg.Connection | None = None
        self._due: dict[str, _Due] = {}
        self._last_sent = -math.inf  # loop time of the last NOTIFY this process sent or let a transaction carry
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf
        self._task: asyncio.Task[None] | None = None

    def inline(self, channels: Iterable[str]) -> InlineWakeup | None:
        """Just before a transaction's last statement: the wake-ups it should NOTIFY in that statement
        (its own and those still due), or None when a NOTIFY left within the merge window or is on its way."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        if now - self._last_sent < self._merge_window or (self._task is not None and not self._task.done()):
            return None
        self._last_sent = now  # the window's slot is taken, whether or not this transaction commits
        return InlineWakeup(tuple(sorted({*channels, *self._due})), now)

    def carried(self, wakeup: InlineWakeup) -> None:
        """The transaction carrying `wakeup` committed: the wake-ups asked for before it are served."""
        for channel in wakeup.channels:
            due = self._due.get(channel)
            if due is not None and due.asked_at <= wakeup.decided_at:
                del self._due[channel]
        if not self._due:
            self._cancel_timer()

    def request(self, channels: Iterable[str], *, within: float | None = None) -> None:
        """Called right after a COMMIT: NOTIFY `channels` within `within` seconds (default: the merge
        window). Returns at once; the NOTIFY leaves in the background, or rides in a later transaction."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        deadline = now + (self._merge_window if within is None else within)
        for channel in channels:
            due = self._due.get(channel)
            if due is None:
                self._due[channel] = _Due(deadline, now)
            else:
                due.deadline, due.asked_at = min(due.deadline, deadline), now
        if self._due:
            self._schedule(min(due.deadline for due in self._due.values()))

    def _schedule(self, at: float) -> None:
        if self._task is not None and not self._task.done():
            return  # the sender looks at what is due when it finishes
        if self._timer is not None and self._timer_at <= at:
            return
        self._cancel_timer()
        self._timer_at = at
        self._timer = asyncio.get_running_loop().call_at(at, self._start_sending)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._timer_at = None, math.inf

    def _start_sending(self) -> None:
        self._timer, self._timer_at = None, math.inf
        if self._due and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._send(), name="commit-notifier")

    async def _send(self) -> None:
        loop = asyncio.get_running_loop()
        while self._due:
            channels, self._due = sorted(self._due), {}
            self._last_sent = loop.time()
            await self._send_once(channels)
            if self._due:  # asked for while that NOTIFY was on its way: wait for their deadline
                wait = min(due.deadline for due in self._due.values()) - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)

    async def _send_once(self, channels: list[str]) -> None:
        # A second attempt on a new connection: the kept one may have died while idle (server restart,
        # pg_terminate_backend) without asyncpg having noticed yet.
        for attempt in (1, 2):
            try:
                await self._notify(channels)
                return
            except Exception as error:  # the listeners' polling covers a lost wake-up
                await self._close()
                if attempt == 2:
                    error_text = f"{type(error).__name__}: {error}"
                    _log.warning("notify_after_commit_failed", channels=channels, error=error_text)

    async def _notify(self, channels: list[str]) -> None:
        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(
                self._dsn, timeout=2, server_settings={"application_name": self._application_name}
            )
        # Bounded: a NOTIFY stuck on a half-open connection must not stop every later one.
        await self._conn.execute(
            "SELECT pg_notify(channel, '') FROM unnest($1::text[]) AS channel", channels, timeout=_CLOSE_WAIT
        )

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2)

    async def flush(self) -> None:
        """Send now what is due (not waiting for its deadline), and wait until it has been sent (or given up)."""
        if self._due and (self._task is None or self._task.done()):
            self._cancel_timer()
            self._start_sending()
        task = self._task
        if task is not None and not task.done():
            with contextlib.suppress(Exception):
                await asyncio.shield(task)

    async def close(self) -> None:
        """Send what was asked for, waiting at most `_CLOSE_WAIT` (the database may be gone), then disconnect."""
        try:
            await asyncio.wait_for(self.flush(), _CLOSE_WAIT)
        except Exception:  # timed out or failed: the listeners' polling covers it
            if self._task is not None:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._task
        self._cancel_timer()
        await self._close()
