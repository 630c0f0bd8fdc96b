"""NOTIFY sent after commit, outside the business transaction, coalesced per process.

A `pg_notify` inside a transaction makes its COMMIT take PostgreSQL's notify-queue lock, held until the
commit record is flushed: every notifying transaction on the server then commits one after another
(decision 021: 2 events per transaction, 8 clients: 35-65% fewer commits/s). Here a transaction
only *asks* for a wake-up (`Tx.notify_after_commit`); once it has committed, `CommitNotifier` sends
the NOTIFY on a connection of its own, after gathering for `MERGE_WINDOW`: every commit in that window
shares one NOTIFY transaction (which still takes the lock, but carries no business writes), so a process
sends at most ~1/MERGE_WINDOW of them per second however many transactions it commits.

Nothing is sent for a rollback. A process that dies between its COMMIT and the NOTIFY loses the wake-up,
not the data: listeners also poll (decision 005), as they must for a lost listener connection anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

import asyncpg
import structlog

_log = structlog.get_logger(__name__)

# How long a wake-up waits for others to share its NOTIFY. Listeners poll every second anyway
# (EVENTS_POLL_INTERVAL); 10 ms more before a dispatcher wakes is noise next to that, and caps a
# process at ~100 NOTIFY transactions/s (decision 021 measures one per ~2 commits without it).
MERGE_WINDOW = 0.01
# Longest wait for one NOTIFY round trip, and for the last one at shutdown (the database may be gone).
_CLOSE_WAIT = 2.0


class CommitNotifier:
    """One per `Database`: sends the NOTIFYs its committed transactions asked for, merged, in the background,
    on a connection of its own (outside the pool, in autocommit: one round trip per NOTIFY, no pool wait)."""

    def __init__(self, dsn: str, application_name: str, *, merge_window: float = MERGE_WINDOW) -> None:
        self._dsn = dsn
        self._merge_window = merge_window
        self._application_name = application_name
        self._conn: asyncpg.Connection | None = None
        self._pending: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    def request(self, channels: Iterable[str]) -> None:
        """Called right after a COMMIT; returns at once (the NOTIFY leaves in the background)."""
        self._pending.update(channels)
        if self._pending and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._send(), name="commit-notifier")

    async def _send(self) -> None:
        while self._pending:
            await asyncio.sleep(self._merge_window)  # let the commits around this one share its NOTIFY
            channels, self._pending = sorted(self._pending), set()
            # A second attempt on a new connection: the kept one may have died while idle (server restart,
            # pg_terminate_backend) without asyncpg having noticed yet.
            for attempt in (1, 2):
                try:
                    await self._notify(channels)
                    break
                except Exception as error:  # the listeners' polling covers a lost wake-up
                    await self._close()
                    if attempt == 2:
                        error_text = f"{type(error).__name__}: {error}"
                        _log.warning("notify_after_commit_failed", channels=channels, error=error_text)
                        return

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
        """Wait until the NOTIFYs already asked for have been sent (or given up)."""
        task = self._task
        if task is not None and not task.done():
            with contextlib.suppress(Exception):
                await asyncio.shield(task)

    async def close(self) -> None:
        """Send what was asked for, waiting at most `_CLOSE_WAIT` (the database may be gone), then disconnect."""
        task = self._task
        if task is not None and not task.done():
            try:
                await asyncio.wait_for(asyncio.shield(task), _CLOSE_WAIT)
            except Exception:  # timed out or failed: the listeners' polling covers it
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        await self._close()
