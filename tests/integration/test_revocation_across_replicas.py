"""A key revoked on one replica stops working on another within the cache TTL (5 s).

Two authenticators with their own caches stand for two replicas sharing the
database; the second one's clock is driven by the test, so the bound is
checked exactly rather than by sleeping.
"""

from __future__ import annotations

import asyncpg

from emporium.bootstrap.authorization import role_permissions
from emporium.modules.identity import workflows
from emporium.modules.identity.authentication import IdentityAuthenticator
from emporium.modules.identity.domain import Role
from emporium.platform.auth.api_keys import hash_api_key
from emporium.platform.auth.cache import DEFAULT_TTL_SECONDS, PrincipalCache
from emporium.platform.db.engine import Database
from tests.support.clock import FakeClock
from tests.support.identity import Tenant, setup_audit


async def test_revocation_reaches_another_replica_within_the_ttl(db: Database, tenant: Tenant) -> None:
    owner = tenant.owner_principal
    issued = await workflows.create_api_key(db, owner, setup_audit(owner), name="r", role=Role.STAFF, expires_at=None)
    key_hash = hash_api_key(issued.secret)

    revoking_cache = PrincipalCache()
    revoking = IdentityAuthenticator(db, revoking_cache, role_permissions())
    clock = FakeClock()
    other = IdentityAuthenticator(db, PrincipalCache(clock=clock), role_permissions())

    assert await revoking.by_api_key(key_hash) is not None
    assert await other.by_api_key(key_hash) is not None  # now cached on the other replica

    await workflows.revoke_api_key(db, owner, setup_audit(owner), issued.key.id)
    revoking_cache.forget(issued.key.id)  # what the revoke handler does
    assert await revoking.by_api_key(key_hash) is None

    clock.now += DEFAULT_TTL_SECONDS - 0.5
    assert await other.by_api_key(key_hash) is not None  # still within the documented window
    clock.now += 0.5
    assert await other.by_api_key(key_hash) is None
    assert DEFAULT_TTL_SECONDS <= 5


async def test_last_used_at_is_recorded_at_most_once_a_minute(
    db: Database, tenant: Tenant, pg: asyncpg.Connection
) -> None:
    owner = tenant.owner_principal
    issued = await workflows.create_api_key(db, owner, setup_audit(owner), name="u", role=Role.STAFF, expires_at=None)
    query = "SELECT last_used_at FROM identity.api_key WHERE id = $1"
    assert await pg.fetchval(query, issued.key.id) is None
    await workflows.authenticate_api_key(db, hash_api_key(issued.secret), role_permissions())
    first = await pg.fetchval(query, issued.key.id)
    await workflows.authenticate_api_key(db, hash_api_key(issued.secret), role_permissions())
    assert first is not None
    assert await pg.fetchval(query, issued.key.id) == first
