"""What the request path pays for the request log: one bounds check and one list append."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from emporium.platform.telemetry.metrics import API_LOG_DROPPED

# (epoch seconds, scope state, route template, method, status, seconds taken, request headers).
# Kept raw: turning it into a row (principal, idempotency key) is the writer's work, off the request path.
RawRequest = tuple[float, dict[str, Any], str, str, int, float, Sequence[tuple[bytes, bytes]]]


class RequestLogBuffer:
    """Bounded: at `capacity` waiting requests, further ones are dropped and counted, never blocking a request.

    The writer takes the whole list at once, so at most `capacity` requests wait here and at most
    another `capacity` are being written: memory is bounded by twice the capacity.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.dropped = 0
        self._items: list[RawRequest] = []

    def append(self, item: RawRequest) -> None:
        if len(self._items) < self.capacity:
            self._items.append(item)
        else:
            self.dropped += 1
            API_LOG_DROPPED.inc()

    def take(self) -> list[RawRequest]:
        items, self._items = self._items, []
        return items

    def __len__(self) -> int:
        return len(self._items)
