"""Versioned read-through cache: Redis when configured, an in-process LRU otherwise.

Entries carry the row's version. A writer, after its transaction commits,
replaces the entry with a *tombstone* at the new version; `put_if_newer`
refuses anything older than what is stored, so a slow reader that loaded the
old row before the commit cannot put it back. Misses are single-flighted per
key in each process; a follower that joined a load which began before a
commit notices the newer tombstone and loads again.

When Redis fails, reads go to PostgreSQL (the request still succeeds) and the
cache is bypassed for `RETRY_AFTER_SECONDS`; an invalidation that could not
reach Redis keeps Redis bypassed on this instance until it is delivered.
Entries expire after their TTL, which bounds what another instance can serve
in that case. Without Redis the LRU is per process: run one instance.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

_log = structlog.stdlib.get_logger("emporium.cache")
RETRY_AFTER_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Entry:
    version: int
    payload: str | None  # None: a tombstone (the key changed at `version`)


class VersionedCache(Protocol):
    @property
    def available(self) -> bool: ...

    async def get(self, key: str) -> Entry | None: ...

    async def put_if_newer(self, key: str, version: int, payload: str, ttl: float) -> bool: ...

    async def invalidate(self, key: str, version: int, ttl: float) -> None: ...

    async def close(self) -> None: ...


def _newer_than_stored(stored: Entry | None, version: int) -> bool:
    if stored is None:
        return True
    return version > stored.version or (version == stored.version and stored.payload is None)


class MemoryCache:
    """The single-instance fallback: an LRU of versioned entries with TTLs."""

    def __init__(self, max_entries: int = 50_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._entries: OrderedDict[str, tuple[Entry, float]] = OrderedDict()
        self._max = max_entries
        self._clock = clock

    @property
    def available(self) -> bool:
        return True

    async def get(self, key: str) -> Entry | None:
        item = self._entries.get(key)
        if item is None:
            return None
        entry, expires = item
        if expires <= self._clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry

    def _set(self, key: str, entry: Entry, ttl: float) -> None:
        self._entries[key] = (entry, self._clock() + ttl)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    async def put_if_newer(self, key: str, version: int, payload: str, ttl: float) -> bool:
        if not _newer_than_stored(await self.get(key), version):
            return False
        self._set(key, Entry(version, payload), ttl)
        return True

    async def invalidate(self, key: str, version: int, ttl: float) -> None:
        current = await self.get(key)
        if current is None or version >= current.version:
            self._set(key, Entry(version, None), ttl)

    async def close(self) -> None:
        self._entries.clear()


# Stored value: "<version>|<json>" or "<version>|" for a tombstone.
_PUT_IF_NEWER = """
local current = redis.call('GET', KEYS[1])
local version = tonumber(ARGV[1])
if current then
  local sep = string.find(current, '|', 1, true)
  local stored = tonumber(string.sub(current, 1, sep - 1))
  local tombstone = sep == string.len(current)
  if stored > version or (stored == version and not tombstone) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. ARGV[2], 'PX', ARGV[3])
return 1
"""

_INVALIDATE = """
local current = redis.call('GET', KEYS[1])
if current then
  local sep = string.find(current, '|', 1, true)
  if tonumber(string.sub(current, 1, sep - 1)) > tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1] .. '|', 'PX', ARGV[2])
return 1
"""


class RedisCache:
    def __init__(self, client: Redis, namespace: str = "emp:", clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._ns = namespace
        self._clock = clock
        self._down_until = 0.0
        self._pending: dict[str, tuple[int, float]] = {}  # invalidations Redis has not received yet
        self._put = client.register_script(_PUT_IF_NEWER)
        self._invalidate = client.register_script(_INVALIDATE)

    @classmethod
    def from_url(cls, url: str) -> RedisCache:
        client = Redis.from_url(url, socket_timeout=0.25, socket_connect_timeout=0.25, retry_on_timeout=False)
        return cls(client)

    @property
    def available(self) -> bool:
        return self._clock() >= self._down_until

    def _failed(self, operation: str, error: Exception) -> None:
        self._down_until = self._clock() + RETRY_AFTER_SECONDS
        _log.warning("cache_unavailable", operation=operation, error=type(error).__name__)

    async def _deliver_pending(self) -> None:
        for key, pending in list(self._pending.items()):
            version, ttl = pending
            await self._invalidate(keys=[self._ns + key], args=[version, int(ttl * 1000)])
            if self._pending.get(key) == pending:  # a newer invalidation may have arrived meanwhile
                del self._pending[key]

    async def get(self, key: str) -> Entry | None:
        if not self.available:
            return None
        try:
            if self._pending:
                await self._deliver_pending()
            raw: Any = await self._client.get(self._ns + key)
        except (RedisError, OSError, TimeoutError) as error:
            self._failed("get", error)
            return None
        if raw is None:
            return None
        version, _, payload = raw.decode().partition("|")
        return Entry(int(version), payload or None)

    async def put_if_newer(self, key: str, version: int, payload: str, ttl: float) -> bool:
        if not self.available or self._pending:
            return False
        try:
            stored: Any = await self._put(keys=[self._ns + key], args=[version, payload, int(ttl * 1000)])
        except (RedisError, OSError, TimeoutError) as error:
            self._failed("put", error)
            return False
        return bool(stored)

    async def invalidate(self, key: str, version: int, ttl: float) -> None:
        self._pending[key] = (version, ttl)
        if not self.available:
            return
        try:
            await self._deliver_pending()
        except (RedisError, OSError, TimeoutError) as error:
            self._failed("invalidate", error)

    async def close(self) -> None:
        await self._client.aclose()


class SingleFlight:
    """One load per key at a time in this process; concurrent callers share its result."""

    def __init__(self) -> None:
        self._flights: dict[str, asyncio.Future[Any]] = {}

    async def run(self, key: str, load: Callable[[], Awaitable[Any]]) -> tuple[Any, bool]:
        """Returns (result, led): `led` is False for callers that joined another caller's load."""
        existing = self._flights.get(key)
        if existing is not None:
            return await asyncio.shield(existing), False
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._flights[key] = future
        try:
            result = await load()
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # retrieved: followers re-raise it, nobody else needs to
            raise
        else:
            future.set_result(result)
            return result, True
        finally:
            if self._flights.get(key) is future:
                del self._flights[key]

    def forget(self, key: str) -> None:
        """After a write commits: later readers start a new load instead of joining an older one."""
        self._flights.pop(key, None)
