"""Running one subscriber on one event, observed: a consumer span continuing the producer's trace
(the context travels inside the outbox row), and per-consumer duration, failures and lag."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from opentelemetry.trace import SpanKind, Status, StatusCode

from emporium.platform.db.engine import Database
from emporium.platform.events.subscriptions import Delivery, Subscription
from emporium.platform.telemetry.metrics import EVENT_DURATION, EVENT_HANDLED, EVENT_LAG
from emporium.platform.telemetry.tracing import context_from, tracer


async def run_handler(subscription: Subscription, db: Database, delivery: Delivery) -> None:
    event = delivery.event
    attributes: dict[str, str | int] = {
        "emporium.module": subscription.module,
        "emporium.role": "handler",
        "messaging.operation": "process",
        "messaging.destination.name": event.name,
        "messaging.message.id": event.id,
        "emporium.consumer": subscription.consumer,
        "emporium.attempt": delivery.attempt,
    }
    started = time.perf_counter()
    with tracer().start_as_current_span(
        f"{event.name} process {subscription.consumer}",
        context=context_from(event.trace_context),
        kind=SpanKind.CONSUMER,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            await subscription.handler(db, delivery)
        except BaseException as error:
            EVENT_HANDLED.labels(subscription.consumer, event.name, "failed").inc()
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
            raise
        finally:
            EVENT_DURATION.labels(subscription.consumer, event.name).observe(time.perf_counter() - started)
    EVENT_HANDLED.labels(subscription.consumer, event.name, "handled").inc()
    lag = (datetime.now(UTC) - event.occurred_at).total_seconds()
    EVENT_LAG.labels(subscription.consumer, event.name).observe(max(lag, 0.0))
