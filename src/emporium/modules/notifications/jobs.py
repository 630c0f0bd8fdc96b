"""The webhook delivery worker (edge role): a loop around `workflows.deliver_due`.

A `BatchLoop`, like the event dispatcher: claims are leases taken with `FOR UPDATE SKIP LOCKED`
(any number of workers share the work), it wakes on NOTIFY when deliveries are
created or replayed and otherwise polls (retries coming due), and `stop()`
ends it at a safe point (the batch in flight is recorded). Time comes from
`clock`, so tests make retries due without waiting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from emporium.modules.notifications import workflows
from emporium.modules.notifications.domain import WAKE_CHANNEL
from emporium.modules.notifications.workflows import Clock, DeliveryReport, Notifiers, utcnow
from emporium.platform.db.engine import Database
from emporium.platform.events.dispatcher import BatchLoop


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


class WebhookDeliveryWorker(BatchLoop):
    task_name = "webhook-worker"
    started_event = "webhook_worker_started"
    stopped_event = "webhook_worker_stopped"
    failed_event = "webhook_delivery_failed"

    def __init__(
        self,
        db: Database,
        settings: DeliverySettings = DeliverySettings(),
        *,
        notifiers: Notifiers | None = None,
        clock: Clock = utcnow,
        name: str | None = None,
    ) -> None:
        super().__init__(db, settings, name, WAKE_CHANNEL)
        self.settings = settings
        self.notifiers = notifiers
        self.clock = clock

    async def _batch(self) -> int:
        return (await self.run_once()).claimed

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
