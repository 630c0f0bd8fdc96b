"""`publish(tx, event)`: the one way to emit an event (service role).

The event is written to `platform.outbox` in the caller's transaction — all
the events of a transaction in one statement just before its COMMIT — so it
exists exactly when the change it describes commits (a rollback leaves
nothing to deliver), and a NOTIFY wakes the dispatchers after the commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from emporium.platform.db.tx import Tx
from emporium.platform.events import store
from emporium.platform.events.contracts import Envelope, Event
from emporium.platform.ids import new_id
from emporium.platform.telemetry.tracing import current_trace_context


def envelope_of(
    event: Event,
    *,
    org_id: str | None = None,
    trace_context: Mapping[str, str] | None = None,
    occurred_at: datetime | None = None,
) -> Envelope:
    return Envelope(
        id=new_id("evt"),
        name=event.event_name,
        version=event.event_version,
        aggregate_type=event.aggregate_type,
        aggregate_id=event.aggregate_id,
        org_id=org_id,
        payload=event.model_dump(mode="json"),
        occurred_at=occurred_at or datetime.now(UTC),
        trace_context=dict(trace_context or {}),
    )


async def publish(
    tx: Tx,
    event: Event,
    *,
    org_id: str | None = None,
    trace_context: Mapping[str, str] | None = None,
    occurred_at: datetime | None = None,
) -> Envelope:
    """Write `event` in the caller's transaction; returns the envelope (its `id` is the event id).

    `org_id` scopes the event (and its dead letters) to a tenant; `trace_context`
    carries the W3C trace headers of the publishing span to the consumers.
    """
    if trace_context is None:
        trace_context = current_trace_context()  # the handlers' spans continue this trace
    envelope = envelope_of(event, org_id=org_id, trace_context=trace_context, occurred_at=occurred_at)
    store.insert_event(tx, envelope)
    return envelope
