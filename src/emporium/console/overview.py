"""The overview's figures, from the metrics the app already keeps (the same registry `/metrics` serves)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from emporium.platform.telemetry.metrics import registry_for

CHECKOUT_ROUTE = "/v1/orders"


@dataclass(frozen=True, slots=True)
class Reading:
    at: float
    orders: float  # checkouts answered 2xx, since start
    requests: float
    errors: float  # 5xx answers
    lag_sum: float
    lag_count: float


@dataclass(frozen=True, slots=True)
class Figures:
    orders_per_second: float
    error_rate: float  # 5xx share of the requests since the previous reading
    event_lag_seconds: float | None  # mean over the events handled since the previous reading
    outbox_backlog: int
    chart_points: str  # an SVG polyline of orders/s over the recent readings


def read(multiprocess_directory: Path | None) -> Reading:
    orders = requests = errors = lag_sum = lag_count = 0.0
    for metric in registry_for(multiprocess_directory).collect():
        for sample in metric.samples:
            labels = sample.labels
            if sample.name == "http_requests_total":
                requests += sample.value
                if labels.get("status_class") == "5xx":
                    errors += sample.value
                if labels.get("route") == CHECKOUT_ROUTE and labels.get("method") == "POST":
                    orders += sample.value if labels.get("status_class") == "2xx" else 0.0
            elif sample.name == "event_handler_lag_seconds_sum":
                lag_sum += sample.value
            elif sample.name == "event_handler_lag_seconds_count":
                lag_count += sample.value
    return Reading(time.monotonic(), orders, requests, errors, lag_sum, lag_count)


class Trend:
    """The last readings of this process (one per overview refresh), for rates and the chart."""

    def __init__(self, size: int = 60) -> None:
        self._readings: deque[Reading] = deque(maxlen=size)

    def add(self, reading: Reading, backlog: int) -> Figures:
        previous = self._readings[-1] if self._readings else None
        self._readings.append(reading)
        rates = [_per_second(a, b) for a, b in zip(self._readings, list(self._readings)[1:], strict=False)]
        if previous is None:
            return Figures(0.0, 0.0, None, backlog, _polyline(rates))
        requests = reading.requests - previous.requests
        lag_count = reading.lag_count - previous.lag_count
        return Figures(
            orders_per_second=rates[-1] if rates else 0.0,
            error_rate=(reading.errors - previous.errors) / requests if requests > 0 else 0.0,
            event_lag_seconds=(reading.lag_sum - previous.lag_sum) / lag_count if lag_count > 0 else None,
            outbox_backlog=backlog,
            chart_points=_polyline(rates),
        )


def _per_second(earlier: Reading, later: Reading) -> float:
    elapsed = later.at - earlier.at
    return (later.orders - earlier.orders) / elapsed if elapsed > 0 else 0.0


def _polyline(values: list[float], width: int = 300, height: int = 60) -> str:
    if not values:
        return ""
    top = max(*values, 1.0)
    step = width / max(len(values) - 1, 1)
    return " ".join(f"{i * step:.1f},{height - v / top * height:.1f}" for i, v in enumerate(values))


@dataclass(frozen=True, slots=True)
class OrgFigures:
    """An owner's overview: the org's own traffic from the API request log (never other orgs')."""

    minutes: int
    requests: int
    errors: int
    checkouts: int
    chart_points: str  # requests per minute


def org_figures(rows: Sequence[tuple[datetime, int, int, int]], minutes: int) -> OrgFigures:
    per_minute = [float(requests) for _, requests, _, _ in rows]
    return OrgFigures(
        minutes=minutes,
        requests=sum(r[1] for r in rows),
        errors=sum(r[2] for r in rows),
        checkouts=sum(r[3] for r in rows),
        chart_points=_polyline(per_minute),
    )
