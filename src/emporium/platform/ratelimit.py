"""Rate limits per API key (or user) and per org: token buckets in Redis, in-process without it.

Each bucket holds up to `burst` tokens and refills at `rate` per second; a
request takes one. Redis runs the bucket as one Lua script (atomic across
replicas); if Redis fails, this instance falls back to its own buckets (a
limit per instance rather than per cluster) until Redis answers again.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

_log = structlog.stdlib.get_logger("emporium.ratelimit")


@dataclass(frozen=True, slots=True)
class Bucket:
    rate: float  # tokens per second
    burst: int  # capacity


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    remaining: int
    retry_after: float  # seconds until a token is available (0 when allowed)
    reset: float  # seconds until the bucket is full again


class RateLimiter(Protocol):
    async def take(self, key: str, bucket: Bucket) -> Decision: ...


def _decide(tokens: float, bucket: Bucket) -> Decision:
    if tokens >= 1:
        left = tokens - 1
        return Decision(True, int(left), 0.0, (bucket.burst - left) / bucket.rate)
    return Decision(False, 0, (1 - tokens) / bucket.rate, (bucket.burst - tokens) / bucket.rate)


class MemoryRateLimiter:
    def __init__(self, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._state: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._max = max_keys
        self._clock = clock

    async def take(self, key: str, bucket: Bucket) -> Decision:
        now = self._clock()
        tokens, at = self._state.get(key, (float(bucket.burst), now))
        tokens = min(float(bucket.burst), tokens + (now - at) * bucket.rate)
        decision = _decide(tokens, bucket)
        self._state[key] = (tokens - 1 if decision.allowed else tokens, now)
        self._state.move_to_end(key)
        while len(self._state) > self._max:
            self._state.popitem(last=False)
        return decision


_TAKE = """
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local rate, burst, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local allowed = 0
if tokens >= 1 then tokens = tokens - 1; allowed = 1 end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, tostring(tokens)}
"""


class RedisRateLimiter:
    def __init__(self, client: Redis, fallback: MemoryRateLimiter | None = None) -> None:
        self._client = client
        self._script = client.register_script(_TAKE)
        self._fallback = fallback or MemoryRateLimiter()
        self._down_until = 0.0

    async def take(self, key: str, bucket: Bucket) -> Decision:
        if time.monotonic() < self._down_until:
            return await self._fallback.take(key, bucket)
        try:
            result: Any = await self._script(keys=[f"emp:rl:{key}"], args=[bucket.rate, bucket.burst, time.time()])
        except (RedisError, OSError, TimeoutError) as error:
            self._down_until = time.monotonic() + 1.0
            _log.warning("rate_limit_redis_unavailable", error=type(error).__name__)
            return await self._fallback.take(key, bucket)
        allowed, left = int(result[0]), float(result[1])
        if allowed:
            return Decision(True, int(left), 0.0, (bucket.burst - left) / bucket.rate)
        return _decide(left, bucket)


def retry_after_header(decision: Decision) -> str:
    return str(max(1, math.ceil(decision.retry_after)))
