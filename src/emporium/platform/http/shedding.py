"""Load shedding: a per-instance limit on concurrent requests, answered 503 at once (never queued).

Requests are classed by route prefix, as each module's manifest declares
(`RouteClass`): `critical` (money moving: placing orders, payments, provider
callbacks) may use the whole limit; `normal` writes and reads a share of it;
`low` (browsing, GET only) the smallest share — so under pressure browsing is
shed first and money last. In adaptive mode the limit follows
observed latency: it shrinks when the last interval's p90 exceeds the target
and grows back while latency is fine and the limit is in use.

The outbox backlog's pressure (`platform.events.backlog`, decision 018) sheds by what the backlog
means: consumers behind -> browsing; consumers gone -> browsing and non-critical writes; the
database itself in danger -> critical writes too. Routes marked `backlog_exempt` (provider callbacks
settling money already moved) are never shed by it, nor are reads other than browsing (operators need them).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from starlette.types import ASGIApp, Receive, Scope, Send

from emporium.platform.events.backlog import Pressure
from emporium.platform.http.limits import send_problem
from emporium.platform.telemetry.metrics import HTTP_SHED

BACKLOG_RETRY_AFTER_SECONDS = 5  # the pressure is re-assessed every couple of seconds and changes slowly
SHARE = {"critical": 1.0, "normal": 0.8, "low": 0.6}
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class Priority(StrEnum):
    CRITICAL = "critical"  # every method under the prefix
    NORMAL = "normal"
    LOW = "low"  # GET only: writes under a browsing prefix stay normal


@dataclass(frozen=True, slots=True)
class RouteClass:
    """How a module's route prefix is shed; `backlog_exempt`: never refused for the outbox backlog."""

    prefix: str
    priority: Priority
    backlog_exempt: bool = False


class ShedPolicy:
    """The route classes of every module, looked up by request path."""

    def __init__(self, routes: Iterable[RouteClass] = ()) -> None:
        classes = list(routes)
        self.critical = tuple(r.prefix for r in classes if r.priority is Priority.CRITICAL)
        self.low = tuple(r.prefix for r in classes if r.priority is Priority.LOW)
        self.backlog_exempt = tuple(r.prefix for r in classes if r.backlog_exempt)

    def priority_of(self, method: str, path: str) -> str:
        if path.startswith(self.critical):
            return Priority.CRITICAL.value
        if method == "GET" and path.startswith(self.low):
            return Priority.LOW.value
        return Priority.NORMAL.value

    def shed_for_backlog(self, pressure: Pressure, method: str, path: str, priority: str) -> bool:
        """Whether the outbox backlog's `pressure` refuses this request (the table in decision 018)."""
        if pressure is Pressure.NONE or path.startswith(self.backlog_exempt):
            return False
        if priority == "low":
            return True
        if method not in WRITE_METHODS:
            return False
        if priority == "normal":
            return pressure >= Pressure.STALLED
        return pressure >= Pressure.DANGER


@dataclass
class ShedSettings:
    max_concurrent: int = 256
    adaptive: bool = False
    latency_target_seconds: float = 0.25
    min_concurrent: int = 1
    initial_concurrent: int = 8  # adaptive: where the limit starts, below max_concurrent


class AdaptiveLimit:
    """The concurrency limit, moved by the latency of the requests answered in the last interval.

    Above the target it shrinks in proportion (target / p90, at most halving), so a limit far too high
    comes down in a few intervals; at or below the target it grows by a tenth, but only while the
    traffic actually uses at least half of it: an idle service keeps a modest limit instead of drifting
    to the maximum and letting the next burst in all at once. The window is one interval, not a count of
    samples, so the limit reacts to what happens now and not to minutes-old requests.
    """

    INTERVAL_SECONDS = 0.5
    MIN_SAMPLES = 5

    def __init__(self, settings: ShedSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        start = settings.initial_concurrent if settings.adaptive else settings.max_concurrent
        self.limit = float(max(settings.min_concurrent, min(settings.max_concurrent, start)))
        self._samples: list[float] = []
        self._peak_in_flight = 0
        self._clock = clock
        self._last_adjust = clock()

    def observe(self, seconds: float, in_flight: int) -> None:
        """One request answered after `seconds`, with `in_flight` requests (itself included) under way."""
        if not self.settings.adaptive:
            return
        self._samples.append(seconds)
        self._peak_in_flight = max(self._peak_in_flight, in_flight)
        now = self._clock()
        if now - self._last_adjust < self.INTERVAL_SECONDS or len(self._samples) < self.MIN_SAMPLES:
            return
        samples, self._samples = sorted(self._samples), []
        peak, self._peak_in_flight = self._peak_in_flight, 0
        self._last_adjust = now
        p90 = samples[max(0, int(len(samples) * 0.9) - 1)]
        target = self.settings.latency_target_seconds
        if p90 > target:
            self.limit = max(float(self.settings.min_concurrent), self.limit * max(0.5, target / p90))
        elif peak >= self.limit / 2:
            self.limit = min(float(self.settings.max_concurrent), self.limit + max(1.0, self.limit / 10))


class LoadSheddingMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        settings: ShedSettings,
        pressure: Callable[[], Pressure] = lambda: Pressure.NONE,
        policy: ShedPolicy | None = None,
    ) -> None:
        self.app = app
        self.settings = settings
        self.policy = policy or ShedPolicy()
        self.limit = AdaptiveLimit(settings)
        self.in_flight = 0
        self.pressure = pressure

    def _refusal(self, method: str, path: str, priority: str) -> str | None:
        if self.in_flight >= self.limit.limit * SHARE[priority]:
            return "concurrency"
        if self.policy.shed_for_backlog(self.pressure(), method, path, priority):
            return "outbox_backlog"
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in {"/livez", "/readyz", "/metrics"}:
            await self.app(scope, receive, send)
            return
        priority = self.policy.priority_of(scope["method"], scope["path"])
        reason = self._refusal(scope["method"], scope["path"], priority)
        if reason == "concurrency":
            HTTP_SHED.labels(priority, reason).inc()
            await send_problem(
                send, scope, 503, "overloaded", "Temporarily overloaded",
                "the service is shedding load to stay fast for the requests it accepts; retry shortly",
                {"Retry-After": "1"},
            )  # fmt: skip
            return
        if reason is not None:
            HTTP_SHED.labels(priority, reason).inc()
            await send_problem(
                send, scope, 503, "overloaded", "Temporarily overloaded",
                "events are waiting to be delivered; this request is set aside so the backlog can clear",
                {"Retry-After": str(BACKLOG_RETRY_AFTER_SECONDS)},
            )  # fmt: skip
            return
        self.in_flight += 1
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            self.limit.observe(time.perf_counter() - started, self.in_flight)
            self.in_flight -= 1
