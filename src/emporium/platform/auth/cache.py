"""A short-lived in-process cache of resolved principals.

Authentication would otherwise cost a database round trip (and a
`last_used_at` write) on every request. Entries live at most `ttl` seconds
(5 s by default) and never past the credential's own expiry, so a revocation
made on another replica takes effect here within `ttl`; the replica that
revokes calls `forget(actor_id)` and it takes effect at once. Only successful
lookups are cached, so a new key works immediately.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from emporium.platform.auth.principal import Principal

DEFAULT_TTL_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class _Entry:
    principal: Principal
    expires: float


class PrincipalCache:
    def __init__(
        self, ttl: float = DEFAULT_TTL_SECONDS, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def get(self, key: str) -> Principal | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires <= self._clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry.principal

    def put(self, key: str, principal: Principal, valid_for: float | None = None) -> None:
        lifetime = self.ttl if valid_for is None else max(0.0, min(self.ttl, valid_for))
        if lifetime <= 0:
            return
        self._entries[key] = _Entry(principal, self._clock() + lifetime)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def forget(self, actor_id: str) -> None:
        for key in [k for k, e in self._entries.items() if e.principal.actor_id == actor_id]:
            del self._entries[key]
