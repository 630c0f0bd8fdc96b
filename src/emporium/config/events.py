"""Settings of the event bus: dispatcher and broker."""

from __future__ import annotations

from emporium.config.forms import boolean, integer, nats_url, seconds
from emporium.config.setting import Setting, setting

SETTINGS: tuple[Setting, ...] = (
    setting(
        "EVENTS_DISPATCH",
        "events_dispatch",
        "true",
        "Run the event dispatcher inside `serve` (false: only `emporium worker` processes deliver events).",
        boolean(),
    ),
    setting(
        "EVENTS_BATCH_SIZE",
        "events_batch_size",
        "100",
        "Outbox events a dispatcher claims at a time.",
        integer(1, 1000),
    ),
    setting(
        "EVENTS_CONCURRENCY",
        "events_concurrency",
        "4",
        "Events (of different aggregates) a dispatcher hands to subscribers at once.",
        integer(1, 64),
    ),
    setting(
        "EVENTS_POLL_INTERVAL",
        "events_poll_interval",
        "1",
        "Longest sleep of an idle dispatcher (it also wakes on NOTIFY at each publish).",
        seconds(0.05, 60),
    ),
    setting(
        "EVENTS_LEASE",
        "events_lease",
        "30",
        "Seconds a claim holds its events; a crashed dispatcher's events are taken over after it.",
        integer(2, 3600),
    ),
    setting(
        "EVENTS_MAX_ATTEMPTS",
        "events_max_attempts",
        "10",
        "Deliveries of an event to a failing consumer before it goes to the dead-letter table.",
        integer(1, 100),
    ),
    setting(
        "EVENTS_RETRY_BASE",
        "events_retry_base",
        "1",
        "Delay before the first retry; it doubles with each attempt (with jitter).",
        seconds(0.01, 3600),
    ),
    setting("EVENTS_RETRY_MAX", "events_retry_max", "300", "Longest delay between two retries.", seconds(0.01, 86400)),
    setting(
        "BROKER_URL",
        "broker_url",
        "",
        "NATS JetStream for events that leave the process, e.g. `nats://127.0.0.1:4222`. "
        "Empty: events are delivered in-process from the outbox.",
        nats_url(),
    ),
)
