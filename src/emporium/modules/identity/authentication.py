"""The `Authenticator` the authentication middleware asks: identity's workflows behind a short cache."""

from __future__ import annotations

from emporium.modules.identity import workflows
from emporium.platform.auth.cache import PrincipalCache
from emporium.platform.auth.principal import Principal
from emporium.platform.db.engine import Database


class IdentityAuthenticator:
    def __init__(self, db: Database, cache: PrincipalCache) -> None:
        self.db = db
        self.cache = cache

    async def by_api_key(self, key_hash: str) -> Principal | None:
        cache_key = f"key:{key_hash}"
        if (cached := self.cache.get(cache_key)) is not None:
            return cached
        found = await workflows.authenticate_api_key(self.db, key_hash)
        if found is None:
            return None
        self.cache.put(cache_key, found.principal, found.valid_for_seconds)
        return found.principal

    async def by_user(self, org_id: str, user_ref: str) -> Principal | None:
        cache_key = f"user:{org_id}:{user_ref}"
        if (cached := self.cache.get(cache_key)) is not None:
            return cached
        principal = await workflows.authenticate_user(self.db, org_id, user_ref)
        if principal is not None:
            self.cache.put(cache_key, principal)
        return principal
