"""Running one subscriber on one event, observed: a consumer span continuing the producer's trace
(the context travels inside the outbox row), and per-consumer duration, failures and lag.

A batch handler (decision 038) gets one span for the whole batch, linked to each event's producer span,
and the same per-event metrics: every event of the batch counts once, with the batch's duration shared
equally among them (so the per-consumer duration histogram still sums to the time spent)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime

from opentelemetry.trace import Link, SpanKind, Status, StatusCode, get_current_span

from emporium.platform.db.engine import Database
from emporium.platform.events.subscriptions import BatchHandler, Delivery, Subscription
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


async def run_batch_handler(
    subscription: Subscription, handler: BatchHandler, db: Database, deliveries: Sequence[Delivery]
) -> None:
    producers = (get_current_span(context_from(d.event.trace_context)).get_span_context() for d in deliveries)
    links = [Link(producer) for producer in producers if producer.is_valid]
    attributes: dict[str, str | int] = {
        "emporium.module": subscription.module,
        "emporium.role": "handler",
        "messaging.operation": "process",
        "messaging.batch.message_count": len(deliveries),
        "emporium.consumer": subscription.consumer,
    }
    started = time.perf_counter()
    with tracer().start_as_current_span(
        f"batch process {subscription.consumer}",
        kind=SpanKind.CONSUMER,
        attributes=attributes,
        links=links,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            await handler(db, deliveries)
        except BaseException as error:
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
            raise  # not counted as failed runs: the dispatcher retries these events one by one
        finally:
            share = (time.perf_counter() - started) / max(len(deliveries), 1)
            for delivery in deliveries:
                EVENT_DURATION.labels(subscription.consumer, delivery.event.name).observe(share)
    now = datetime.now(UTC)
    for delivery in deliveries:
        EVENT_HANDLED.labels(subscription.consumer, delivery.event.name, "handled").inc()
        EVENT_LAG.labels(subscription.consumer, delivery.event.name).observe(
            max((now - delivery.event.occurred_at).total_seconds(), 0.0)
        )
