"""Prometheus metrics. With several worker processes, main.py points PROMETHEUS_MULTIPROC_DIR at
`metrics_directory(config)` before anything imports prometheus_client: every process writes its
samples there and `/metrics` aggregates them."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter("http_requests", "HTTP requests answered", ["route", "method", "status_class"])
HTTP_DURATION = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency",
    ["route", "method", "status_class"],
    buckets=LATENCY_BUCKETS,
)
HTTP_IN_FLIGHT = Gauge("http_requests_in_flight", "HTTP requests being served", multiprocess_mode="livesum")
HTTP_SHED = Counter("http_requests_shed", "Requests refused with 503 to protect the service", ["priority", "reason"])
HTTP_RATE_LIMITED = Counter("http_requests_rate_limited", "Requests refused with 429", ["scope"])
API_LOG_DROPPED = Counter("api_log_dropped", "API request log entries dropped (buffer full or write failed)")
API_LOG_WRITTEN = Counter("api_log_written", "API request log entries written")

EVENT_HANDLED = Counter("event_handler_runs", "Event deliveries to a consumer", ["consumer", "event", "outcome"])
EVENT_DURATION = Histogram(
    "event_handler_duration_seconds", "Event handler latency", ["consumer", "event"], buckets=LATENCY_BUCKETS
)
EVENT_LAG = Histogram(
    "event_handler_lag_seconds",
    "From the event's commit to its handling",
    ["consumer", "event"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 30, 60, 300, 1800),
)
OUTBOX_BACKLOG = Gauge("outbox_backlog_events", "Events not yet delivered", multiprocess_mode="max")
OUTBOX_OLDEST_AGE = Gauge(
    "outbox_oldest_event_age_seconds", "Age of the oldest undelivered event", multiprocess_mode="max"
)
DEAD_LETTERS = Gauge("event_dead_letters", "Dead letters not yet replayed", multiprocess_mode="max")
DB_POOL_IN_USE = Gauge("db_pool_connections_in_use", "Database connections checked out", multiprocess_mode="livesum")
DB_POOL_WAITING = Gauge("db_pool_waiting", "Requests waiting for a database connection", multiprocess_mode="livesum")
CACHE_LOOKUPS = Counter("cache_lookups", "Cache reads", ["cache", "outcome"])
# A module's own metrics live in the module (`modules/<m>/metrics.py`) and are listed in its manifest.


def status_class(status: int) -> str:
    return f"{status // 100}xx"


def registry_for(multiprocess_directory: Path | None) -> CollectorRegistry:
    """Every worker's metrics when they share a directory, else this process's."""
    if multiprocess_directory is not None and multiprocess_directory.is_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(multiprocess_directory))  # type: ignore[no-untyped-call]
        return registry
    return REGISTRY


def render(multiprocess_directory: Path | None) -> tuple[bytes, str]:
    return generate_latest(registry_for(multiprocess_directory)), CONTENT_TYPE_LATEST
