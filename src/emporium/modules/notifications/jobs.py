"""The webhook delivery worker (edge role): a loop around `workflows.deliver_due`.

Like the event dispatcher: claims are leases taken with `FOR UPDATE SKIP LOCKED`
(any number of workers share the work), it wakes on NOTIFY when deliveries are
created or replayed and otherwise polls (retries coming due), and `stop()`
ends it at a safe point (the batch in flight is recorded). Time comes from
`clock`, so tests make retries due without waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from dataclasses import dataclass

from emporium.modules.notifications import workflows
from emporium.modules.notifications.domain import WAKE_CHANNEL
from emporium.modules.notifications.workflows import Clock, DeliveryReport, Notifiers, utcnow
from emporium.platform.db.engine import Database
from emporium.platform.events.dispatcher import WakeListener, error_text, worker_name
from emporium.platform.telemetry.logging import get_logger

_log = get_logger("emporium.notifications")


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    batch_size: int = 100
    concurrency: int = 16
    timeout: float = 15.0
    poll_interval: float = 1.0
    stop_timeout: float = 10.0

    @property
    def lease_seconds(self) -> float:
        """Long enough for a whole batch of requests that all time out, plus a margin."""
        return self.timeout * math.ceil(self.batch_size / self.concurrency) + 30


class WebhookDeliveryWorker:
    def __init__(
        self,
        db: Database,
        settings: DeliverySettings = DeliverySettings(),
        *,
        notifiers: Notifiers | None = None,
        clock: Clock = utcnow,
        name: str | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.notifiers = notifiers
        self.clock = clock
        self.name = name or worker_name()
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name=f"webhook-worker {self.name}")

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        task, self._task = self._task, None
        if task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), self.settings.stop_timeout)
        except TimeoutError:
            task.cancel()  # its claims come back when their lease expires
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def run(self) -> None:
        listener = WakeListener(self.db.url, self._wake, WAKE_CHANNEL)
        _log.info("webhook_worker_started", worker=self.name)
        try:
            while not self._stopping.is_set():
                await listener.ensure_connected()
                self._wake.clear()
                try:
                    report = await self.run_once()
                except Exception as error:  # the database is away: wait and try again
                    _log.warning("webhook_delivery_failed", worker=self.name, error=error_text(error))
                    report = DeliveryReport()
                if report.claimed == 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.settings.poll_interval)
        finally:
            await listener.close()
            _log.info("webhook_worker_stopped", worker=self.name)

    async def run_once(self) -> DeliveryReport:
        """Claim one batch of due deliveries, send it and record the outcomes."""
        return await workflows.deliver_due(
            self.db,
            worker=self.name,
            batch=self.settings.batch_size,
            concurrency=self.settings.concurrency,
            lease_seconds=self.settings.lease_seconds,
            notifiers=self.notifiers,
            clock=self.clock,
        )
