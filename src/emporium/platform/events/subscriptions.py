"""Subscriptions: who consumes which events, and what a handler receives.

A module lists its subscriptions in `modules/<m>/subscribers.py` as
`SUBSCRIPTIONS`. The consumer name (`<module>.<purpose>`) is the inbox key
and the broker's durable consumer; `reads` is the consumer-driven contract:
for each (event name, version) it consumes, the payload fields it relies on.
Events are routed by exactly those (name, version) pairs.

A subscription may also give a `batch_handler`: the outbox dispatcher then hands it, in one call, every
event of a claimed batch the consumer has not processed (decision 038). A batch handler applies all of its
deliveries or none (one transaction), is idempotent like `handler`, and may rely on the deliveries
belonging to different aggregates. `handler` stays the reference path: retries, dead-letter replays and the
broker worker use it, and the dispatcher falls back to it, event by event, when a batch fails.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from emporium.platform.db.engine import Database
from emporium.platform.events.contracts import EVENT_NAME, Envelope

CONSUMER_NAME = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event handed to one consumer; `attempt` counts from 1."""

    event: Envelope
    consumer: str
    attempt: int = 1


Handler = Callable[[Database, Delivery], Awaitable[None]]
BatchHandler = Callable[[Database, Sequence[Delivery]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Subscription:
    consumer: str
    handler: Handler
    reads: Mapping[tuple[str, int], frozenset[str]] = field(default_factory=dict)
    batch_handler: BatchHandler | None = None

    def __post_init__(self) -> None:
        if not CONSUMER_NAME.match(self.consumer):
            raise ValueError(f"consumer names look like 'module.purpose', got {self.consumer!r}")
        if not self.reads:
            raise ValueError(f"{self.consumer} reads no event")
        for name, version in self.reads:
            if not EVENT_NAME.match(name) or version < 1:
                raise ValueError(f"{self.consumer} reads a malformed event key {(name, version)!r}")

    @property
    def module(self) -> str:
        return self.consumer.split(".", 1)[0]

    @property
    def durable_name(self) -> str:
        """The JetStream durable consumer name (dots are not allowed there)."""
        return self.consumer.replace(".", "__")


class Subscriptions:
    """The subscriptions one process hosts, looked up by (event name, version)."""

    def __init__(self, subscriptions: Iterable[Subscription] = ()) -> None:
        self._by_consumer: dict[str, Subscription] = {}
        self._by_event: dict[tuple[str, int], list[Subscription]] = {}
        for subscription in subscriptions:
            self.add(subscription)

    def add(self, subscription: Subscription) -> None:
        if subscription.consumer in self._by_consumer:
            raise ValueError(f"consumer {subscription.consumer!r} is registered twice")
        self._by_consumer[subscription.consumer] = subscription
        for key in subscription.reads:
            self._by_event.setdefault(key, []).append(subscription)

    def for_event(self, key: tuple[str, int]) -> list[Subscription]:
        return self._by_event.get(key, [])

    def batched(self) -> list[Subscription]:
        """The subscriptions that also take a whole batch in one call."""
        return [s for s in self._by_consumer.values() if s.batch_handler is not None]

    def consumer(self, name: str) -> Subscription | None:
        return self._by_consumer.get(name)

    def only_module(self, module: str) -> Subscriptions:
        return Subscriptions(s for s in self._by_consumer.values() if s.module == module)

    def __iter__(self) -> Iterator[Subscription]:
        return iter(self._by_consumer.values())

    def __len__(self) -> int:
        return len(self._by_consumer)
