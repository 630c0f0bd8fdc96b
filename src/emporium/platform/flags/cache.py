"""The process's flag snapshot, reloaded on change (locally and through Redis) and periodically."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from emporium.platform.flags.definitions import Flag, Setting, evaluate, index_settings

_log = structlog.stdlib.get_logger("emporium.flags")
CHANNEL = "emp:flags:changed"
Loader = Callable[[], Awaitable[list[Setting]]]


class FlagCache:
    """Every flag setting in memory; `reload` replaces them in one assignment (readers never see half)."""

    def __init__(self, load: Loader, *, redis_url: str | None = None, refresh_seconds: float = 30.0) -> None:
        self._load = load
        self._redis_url = redis_url
        self._refresh_seconds = refresh_seconds
        self._settings: Mapping[tuple[str, str], int] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._publisher: Redis | None = None
        self._subscribed = asyncio.Event()

    def enabled(self, flag: Flag, org_id: str | None) -> bool:
        return evaluate(flag, org_id, self._settings)

    async def reload(self) -> None:
        self._settings = index_settings(await self._load())

    async def start(self) -> None:
        """Load once (a failure leaves the declared defaults until the next reload), then follow changes."""
        try:
            await self.reload()
        except Exception as error:  # the database may be starting: the periodic reload catches up
            _log.warning("flags_load_failed", error=type(error).__name__)
        self._tasks.append(asyncio.create_task(self._refresh_periodically(), name="flags-refresh"))
        if self._redis_url:
            self._publisher = Redis.from_url(self._redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)
            self._tasks.append(asyncio.create_task(self._follow(self._redis_url), name="flags-follow"))
            # A replica that answers requests should already hear the others' changes (a slow Redis: it goes on).
            if not await self.wait_subscribed(2.0):
                _log.warning("flags_not_subscribed", detail="changes from other replicas wait for the periodic reload")

    async def wait_subscribed(self, within: float) -> bool:
        """Whether this replica listens to other replicas' changes (waiting up to `within` seconds)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), within)
        return self._subscribed.is_set()

    async def changed(self) -> None:
        """After a change commits: reload here, and tell the other replicas."""
        await self.reload()
        if self._publisher is None:
            return
        try:
            await self._publisher.publish(CHANNEL, b"1")
        except (RedisError, OSError, TimeoutError) as error:  # the others catch up at their periodic reload
            _log.warning("flags_publish_failed", error=type(error).__name__)

    async def _refresh_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_seconds)
            try:
                await self.reload()
            except Exception as error:
                _log.warning("flags_reload_failed", error=type(error).__name__)

    async def _follow(self, url: str) -> None:
        """Reload on every message; after a lost connection, resubscribe and reload (messages may be lost)."""
        while True:
            client = Redis.from_url(url, socket_connect_timeout=1.0, health_check_interval=30)
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    self._subscribed.set()
                    await self.reload()
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            await self.reload()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self._subscribed.clear()
                _log.warning("flags_follow_failed", error=type(error).__name__)
                await asyncio.sleep(1.0)
            finally:
                await client.aclose()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self._publisher is not None:
            await self._publisher.aclose()
            self._publisher = None


_installed: list[FlagCache] = []


def install(cache: FlagCache) -> None:
    _installed.append(cache)


def uninstall(cache: FlagCache) -> None:
    if cache in _installed:
        _installed.remove(cache)


def enabled(flag: Flag, org_id: str | None) -> bool:
    """THE read: whether `flag` is on for `org_id` in this process (declared default before any load)."""
    if not _installed:
        return flag.default
    return _installed[-1].enabled(flag, org_id)


async def announce_change() -> None:
    """What a workflow calls after committing a flag change."""
    if _installed:
        await _installed[-1].changed()
