"""Load shedding: a per-instance limit on concurrent requests, answered 503 at once (never queued).

Requests are classed by route: `critical` (checkout, payments, provider
webhooks, refunds) may use the whole limit; `normal` writes and reads a
share of it; `low` (catalog browsing) the smallest share — so under pressure
browsing is shed first and checkout last. In adaptive mode the limit follows
observed latency (AIMD): it shrinks when the recent p90 exceeds the target
and grows back by one while latency is fine. An outbox backlog above a
threshold sheds non-critical writes too (their events could not be delivered
in time anyway).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from emporium.platform.http.limits import send_problem
from emporium.platform.telemetry.metrics import HTTP_SHED

CRITICAL_PREFIXES = ("/v1/orders", "/v1/payments", "/v1/provider-webhooks")
LOW_PREFIXES = ("/v1/products", "/v1/categories")
SHARE = {"critical": 1.0, "normal": 0.8, "low": 0.6}
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def priority_of(method: str, path: str) -> str:
    if path.startswith(CRITICAL_PREFIXES):
        return "critical"
    if method == "GET" and path.startswith(LOW_PREFIXES):
        return "low"
    return "normal"


@dataclass
class ShedSettings:
    max_concurrent: int = 256
    adaptive: bool = False
    latency_target_seconds: float = 0.25
    min_concurrent: int = 8
    backlog_threshold: int = 50_000


class AdaptiveLimit:
    """AIMD on the p90 of the last requests' latency."""

    def __init__(self, settings: ShedSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.limit = float(settings.max_concurrent)
        self._samples: deque[float] = deque(maxlen=200)
        self._clock = clock
        self._last_adjust = clock()

    def observe(self, seconds: float) -> None:
        if not self.settings.adaptive:
            return
        self._samples.append(seconds)
        now = self._clock()
        if now - self._last_adjust < 0.5 or len(self._samples) < 20:
            return
        self._last_adjust = now
        p90 = sorted(self._samples)[int(len(self._samples) * 0.9) - 1]
        if p90 > self.settings.latency_target_seconds:
            self.limit = max(float(self.settings.min_concurrent), self.limit * 0.8)
        else:
            self.limit = min(float(self.settings.max_concurrent), self.limit + 1)


class LoadSheddingMiddleware:
    def __init__(self, app: ASGIApp, settings: ShedSettings, backlog: Callable[[], int] = lambda: 0) -> None:
        self.app = app
        self.settings = settings
        self.limit = AdaptiveLimit(settings)
        self.in_flight = 0
        self.backlog = backlog

    def _refusal(self, method: str, priority: str) -> str | None:
        if self.in_flight >= self.limit.limit * SHARE[priority]:
            return "concurrency"
        if priority != "critical" and method in WRITE_METHODS and self.backlog() > self.settings.backlog_threshold:
            return "outbox_backlog"
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in {"/livez", "/readyz", "/metrics"}:
            await self.app(scope, receive, send)
            return
        priority = priority_of(scope["method"], scope["path"])
        reason = self._refusal(scope["method"], priority)
        if reason is not None:
            HTTP_SHED.labels(priority, reason).inc()
            await send_problem(
                send, scope, 503, "overloaded", "Temporarily overloaded",
                "the service is shedding load to stay fast for the requests it accepts; retry shortly",
                {"Retry-After": "1"},
            )  # fmt: skip
            return
        self.in_flight += 1
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
            self.limit.observe(time.perf_counter() - started)
