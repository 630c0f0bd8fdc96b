"""Settings of the HTTP edge: limits, load shedding, rate limits."""

from __future__ import annotations

from emporium.config.forms import boolean, integer, seconds
from emporium.config.setting import Setting, setting

SETTINGS: tuple[Setting, ...] = (
    setting(
        "MAX_BODY_BYTES",
        "max_body_bytes",
        "1048576",
        "Largest request body; above it: 413.",
        integer(1024, 64 * 1048576),
    ),
    setting(
        "REQUEST_TIMEOUT",
        "request_timeout",
        "30",
        "A request still running after this many seconds is cancelled and answered 503.",
        seconds(1, 600),
    ),
    setting(
        "SHED_MAX_CONCURRENT",
        "shed_max_concurrent",
        "256",
        "Concurrent requests per worker before load is shed with 503 (catalog browsing first, checkout last).",
        integer(1, 100_000),
    ),
    setting(
        "SHED_ADAPTIVE",
        "shed_adaptive",
        "false",
        "Let the concurrency limit follow observed latency (shrinks above SHED_LATENCY_TARGET).",
        boolean(),
    ),
    setting(
        "SHED_LATENCY_TARGET",
        "shed_latency_target",
        "0.25",
        "Adaptive shedding: the p90 latency, in seconds, above which the limit shrinks.",
        seconds(0.001, 60),
    ),
    setting(
        "OUTBOX_SHED_THRESHOLD",
        "outbox_shed_threshold",
        "50000",
        "Undelivered events (estimated) that make a backlog: catalog browsing is shed with 503 (decision 018).",
        integer(1, 100_000_000),
    ),
    setting(
        "OUTBOX_SHED_AGE",
        "outbox_shed_age",
        "300",
        "Seconds the oldest undelivered event may wait before it makes a backlog (as OUTBOX_SHED_THRESHOLD).",
        seconds(1, 86_400),
    ),
    setting(
        "OUTBOX_STALL_SECONDS",
        "outbox_stall_seconds",
        "60",
        "A backlog nothing has been delivered from for this long means consumers are gone: "
        "non-critical writes are shed too; checkout never is.",
        seconds(0, 86_400),
    ),
    setting(
        "OUTBOX_DANGER_THRESHOLD",
        "outbox_danger_threshold",
        "10000000",
        "Undelivered events (estimated) at which the database itself is at risk: checkout and payments are shed too.",
        integer(1, 1_000_000_000),
    ),
    setting(
        "RATE_LIMIT_PER_KEY",
        "rate_limit_per_key",
        "50",
        "Requests per second per API key or user (bursts of twice that); over it: 429.",
        seconds(0.1, 1_000_000),
    ),
    setting(
        "RATE_LIMIT_PER_ORG",
        "rate_limit_per_org",
        "200",
        "Requests per second per org, all its keys and users together (bursts of twice that).",
        seconds(0.1, 1_000_000),
    ),
)
