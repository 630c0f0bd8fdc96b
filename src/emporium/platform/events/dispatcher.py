"""The dispatcher: claims pending outbox events and hands them to subscribers (or the broker).

One loop per process (`emporium serve` runs it as a background task, `emporium
worker` runs it alone). Several replicas share the work: a claim is a lease
(`claimed_by`, `claimed_until`) taken with `FOR UPDATE SKIP LOCKED`, never a
"last seen id", so an event whose transaction commits late is still found.
A claim only ever holds the oldest pending event of each aggregate, which
keeps every aggregate's events in order while different aggregates proceed
in parallel.

It sleeps on LISTEN/NOTIFY (a publish wakes it at commit) with a polling
fallback (retries that come due, a lost listener connection). `stop()` ends
the loop at a safe point: handlers already running finish, claims not yet
started are released for another dispatcher.

A subscriber with a batch handler gets the batch's events in one call before the others run event by
event (decision 038): a read model then applies a hundred events in one transaction instead of a hundred.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import asyncpg

from emporium.platform.db.engine import Database
from emporium.platform.events import workflows
from emporium.platform.events.contracts import Envelope
from emporium.platform.events.observed import run_batch_handler, run_handler
from emporium.platform.events.retry import RetryPolicy
from emporium.platform.events.store import WAKE_CHANNEL, Claimed
from emporium.platform.events.subscriptions import Delivery, Subscriptions
from emporium.platform.telemetry.logging import get_logger

_log = get_logger("emporium.events")


@dataclass(frozen=True, slots=True)
class DispatchSettings:
    batch_size: int = 100
    concurrency: int = 4
    lease_seconds: int = 30
    poll_interval: float = 1.0
    stop_timeout: float = 10.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)


class Forwarder(Protocol):
    """Where events go instead of in-process subscribers when a broker is configured."""

    async def forward(self, event: Envelope) -> None: ...


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def error_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:2000]


class WakeListener:
    """LISTENs on the outbox channel (or `channel`) with a connection of its own; any NOTIFY sets `wake`."""

    def __init__(self, database_url: str, wake: asyncio.Event, channel: str = WAKE_CHANNEL) -> None:
        self._dsn = database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
        self._wake = wake
        self._channel = channel
        self._conn: asyncpg.Connection | None = None

    @property
    def connected(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    async def ensure_connected(self) -> None:
        if self.connected:
            return
        await self.close()
        try:
            self._conn = await asyncpg.connect(self._dsn, timeout=5)
            await self._conn.add_listener(self._channel, self._notified)
        except (OSError, asyncpg.PostgresError, TimeoutError) as error:
            # Polling still delivers everything; the next cycle tries again.
            _log.warning("events_listen_unavailable", error=error_text(error))
            await self.close()
            return
        self._wake.set()  # anything published while we were not listening is picked up now

    def _notified(self, *_args: Any) -> None:
        self._wake.set()

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2)


class LoopSettings(Protocol):
    @property
    def poll_interval(self) -> float: ...
    @property
    def stop_timeout(self) -> float: ...


class BatchLoop:
    """A background loop of batches: work while there is work; otherwise sleep until a NOTIFY on `channel`
    or `poll_interval`. `stop()` ends it at a safe point, or cancels the batch after `stop_timeout` (its
    claims come back when their lease expires). Subclasses say what one batch is (`_batch`, the number of
    items claimed) and name their log events."""

    task_name = "batch-loop"
    started_event = "batch_loop_started"
    stopped_event = "batch_loop_stopped"
    failed_event = "batch_loop_failed"

    def __init__(self, db: Database, settings: LoopSettings, name: str | None, channel: str = WAKE_CHANNEL) -> None:
        self.db = db
        self.name = name or worker_name()
        self._loop_settings = settings
        self._channel = channel
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name=f"{self.task_name} {self.name}")

    async def stop(self) -> None:
        """Stop at a safe point; if a batch outlives `stop_timeout`, cancel it (its lease expires)."""
        self._stopping.set()
        self._wake.set()
        task, self._task = self._task, None
        if task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), self._loop_settings.stop_timeout)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def run(self) -> None:
        listener = WakeListener(self.db.url, self._wake, self._channel)
        _log.info(self.started_event, worker=self.name, **self._started_fields())
        try:
            while not self._stopping.is_set():
                await listener.ensure_connected()
                self._wake.clear()  # cleared before claiming: a NOTIFY during the batch is not lost
                try:
                    claimed = await self._batch()
                except Exception as error:  # the database or broker is away: wait and try again
                    _log.warning(self.failed_event, worker=self.name, error=error_text(error))
                    claimed = 0
                if claimed == 0:
                    await self._sleep()
        finally:
            await listener.close()
            _log.info(self.stopped_event, worker=self.name)

    async def _sleep(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self._loop_settings.poll_interval)

    async def _batch(self) -> int:
        raise NotImplementedError

    def _started_fields(self) -> dict[str, Any]:
        return {}


class Dispatcher(BatchLoop):
    task_name = "events-dispatcher"
    started_event = "events_dispatcher_started"
    stopped_event = "events_dispatcher_stopped"
    failed_event = "events_dispatch_failed"

    def __init__(
        self,
        db: Database,
        subscriptions: Subscriptions,
        settings: DispatchSettings = DispatchSettings(),
        *,
        forwarder: Forwarder | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(db, settings, name)
        self.subscriptions = subscriptions
        self.settings = settings
        self.forwarder = forwarder

    def _started_fields(self) -> dict[str, Any]:
        return {"mode": "broker" if self.forwarder else "subscribers"}

    async def _batch(self) -> int:
        return await self.run_once()

    # --- one batch ------------------------------------------------------------------------------

    async def run_once(self) -> int:
        """Claim one batch and process it; the number of events claimed (0: nothing was ready)."""
        if self._stopping.is_set():
            return 0
        claimed = await workflows.claim_batch(self.db, self.name, self.settings.batch_size, self.settings.lease_seconds)
        if not claimed:
            return 0
        if self.forwarder is not None:
            return await self._forward(claimed, self.forwarder)
        await self._deliver(claimed)
        return len(claimed)

    async def _forward(self, claimed: Sequence[Claimed], forwarder: Forwarder) -> int:
        """Publish in seq order; on a broker failure the rest waits in the outbox (0 = back off)."""
        forwarded: list[int] = []
        try:
            for item in claimed:
                if self._stopping.is_set():
                    break
                await forwarder.forward(item.event)
                forwarded.append(item.seq)
        except Exception as error:
            _log.warning("events_broker_unavailable", worker=self.name, error=error_text(error), waiting=len(claimed))
        finally:
            # The broker deduplicates by event id, so a crash before this line only re-sends.
            await workflows.mark_delivered(self.db, forwarded, "broker")
            await workflows.release_claims(self.db, [c.seq for c in claimed if c.seq not in set(forwarded)], self.name)
        return len(forwarded)

    async def _deliver(self, claimed: Sequence[Claimed]) -> None:
        consumers = {s.consumer for item in claimed for s in self.subscriptions.for_event(item.event.key)}
        done = await workflows.processed_consumers(self.db, sorted(consumers), [c.event.id for c in claimed])
        await self._deliver_batches(claimed, done)
        limit = asyncio.Semaphore(self.settings.concurrency)
        delivered: list[int] = []
        not_started: list[int] = []

        async def one(item: Claimed) -> None:
            async with limit:
                if self._stopping.is_set():
                    not_started.append(item.seq)
                elif await self._deliver_one(item, done):
                    delivered.append(item.seq)

        # Events of one batch belong to different aggregates (a claim holds only each aggregate's
        # oldest pending event), so they may run concurrently without breaking any order.
        try:
            await asyncio.gather(*(one(item) for item in claimed))
        finally:
            await workflows.mark_delivered(self.db, delivered, "subscribers")
            await workflows.release_claims(self.db, not_started, self.name)

    async def _deliver_batches(self, claimed: Sequence[Claimed], done: set[tuple[str, str]]) -> None:
        """Hand each batch subscriber, in one call, the batch's events it has not processed; on success add
        them to `done`, so `_deliver_one` skips them. Events being retried (attempts > 0) are left to the
        one-by-one path, and so is a whole batch that fails: a bad event then fails alone, with its own
        retries and dead letter, and does not hold back the others for longer than this one attempt."""
        for subscription in self.subscriptions.batched():
            handler = subscription.batch_handler
            deliveries = [
                Delivery(item.event, subscription.consumer, 1)
                for item in claimed
                if item.attempts == 0
                and item.event.key in subscription.reads
                and (subscription.consumer, item.event.id) not in done
            ]
            if handler is None or not deliveries or self._stopping.is_set():
                continue
            try:
                await run_batch_handler(subscription, handler, self.db, deliveries)
            except Exception as error:
                _log.warning(
                    "event_batch_failed",
                    consumer=subscription.consumer,
                    events=len(deliveries),
                    error=error_text(error),
                )
                continue
            done.update((subscription.consumer, d.event.id) for d in deliveries)

    async def _deliver_one(self, item: Claimed, done: set[tuple[str, str]]) -> bool:
        """Run every subscriber that has not processed the event yet; True when all succeeded."""
        event = item.event
        attempt = item.attempts + 1
        errors: dict[str, str] = {}
        for subscription in self.subscriptions.for_event(event.key):
            if (subscription.consumer, event.id) in done:
                continue
            try:
                await run_handler(subscription, self.db, Delivery(event, subscription.consumer, attempt))
            except Exception as error:
                errors[subscription.consumer] = error_text(error)
                _log.warning(
                    "event_handler_failed",
                    consumer=subscription.consumer,
                    event_id=event.id,
                    event_name=event.name,
                    attempt=attempt,
                    error=errors[subscription.consumer],
                )
        if not errors:
            return True
        policy = self.settings.retry
        if policy.exhausted(attempt):
            ids = await workflows.give_up(self.db, item, attempt, errors)
            _log.error("event_dead_lettered", event_id=event.id, consumers=sorted(errors), dead_letters=ids)
        else:
            summary = "; ".join(f"{consumer}: {error}" for consumer, error in sorted(errors.items()))
            await workflows.retry_later(self.db, item.seq, attempt, summary, policy.delay_after(attempt))
        return False
