"""The `Authenticator` the authentication middleware asks: identity's workflows behind a short cache."""

from __future__ import annotations

from emporium.modules.identity import workflows
from emporium.modules.identity.domain import RolePermissions
from emporium.platform.auth.cache import PrincipalCache
from emporium.platform.auth.principal import Principal
from emporium.platform.db.engine import Database


class IdentityAuthenticator:
    def __init__(self, db: Database, cache: PrincipalCache, role_permissions: RolePermissions) -> None:
        self.db = db
        self.cache = cache
        self.role_permissions = role_permissions  # from every module's manifest: see emporium.bootstrap

    async def by_api_key(self, key_hash: str) -> Principal | None:
        cache_key = f"key:{key_hash}"
        if (cached := self.cache.get(cache_key)) is not None:
            return cached
        found = await workflows.authenticate_api_key(self.db, key_hash, self.role_permissions)
        if found is None:
            return None
        self.cache.put(cache_key, found.principal, found.valid_for_seconds)
        return found.principal

    async def by_user(self, org_id: str, user_ref: str) -> Principal | None:
        cache_key = f"user:{org_id}:{user_ref}"
        if (cached := self.cache.get(cache_key)) is not None:
            return cached
        principal = await workflows.authenticate_user(self.db, org_id, user_ref, self.role_permissions)
        if principal is not None:
            self.cache.put(cache_key, principal)
        return principal
