"""Retry delays: exponential backoff with "equal jitter" (a pure helper).

The delay before attempt n+1 is drawn from [d/2, d] where d = base * 2^(n-1),
capped. Doubling d each time makes the ranges of consecutive attempts touch
but never overlap, so delays never shrink, while the random half spreads the
retries of many events that failed together (a downstream outage) over time.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 10
    base_delay: float = 1.0
    max_delay: float = 300.0

    def delay_after(self, attempts: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait after the `attempts`-th failure (attempts >= 1)."""
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** max(0, attempts - 1))
        return ceiling / 2 + rand() * ceiling / 2

    def exhausted(self, attempts: int) -> bool:
        return attempts >= self.max_attempts
