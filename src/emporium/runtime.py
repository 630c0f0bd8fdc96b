"""Wiring: the long-lived resources of one worker process, opened in order and
closed in reverse order of creation.

`main.py` reads the environment; this module turns a `Config` (plus the
database URL the serving process resolved) into live clients.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from emporium.config import Config
from emporium.modules.identity.authentication import IdentityAuthenticator
from emporium.platform.auth.cache import PrincipalCache
from emporium.platform.auth.jwt import JwtSettings, JwtVerifier
from emporium.platform.cache import MemoryCache, RedisCache, VersionedCache
from emporium.platform.db.engine import Database, PoolSettings
from emporium.platform.db.migrate import head_revision


@dataclass(frozen=True, slots=True)
class Runtime:
    config: Config
    db: Database
    expected_revision: str | None
    principal_cache: PrincipalCache
    authenticator: IdentityAuthenticator
    jwt_verifier: JwtVerifier | None
    cache: VersionedCache


def jwt_verifier_for(config: Config) -> JwtVerifier | None:
    if not config.jwt_algorithms:
        return None
    return JwtVerifier(
        JwtSettings(
            algorithms=config.jwt_algorithms,
            issuer=config.jwt_issuer or "",
            audience=config.jwt_audience or "",
            leeway_seconds=config.jwt_leeway,
            user_claim=config.jwt_user_claim,
            org_claim=config.jwt_org_claim,
            secret=config.jwt_secret,
            jwks=config.jwt_jwks,
        )
    )


@asynccontextmanager
async def open_runtime(config: Config, database_url: str) -> AsyncIterator[Runtime]:
    async with AsyncExitStack() as stack:
        db = Database(database_url, PoolSettings(size=config.db_pool_size, timeout=config.db_pool_timeout))
        stack.push_async_callback(db.dispose)
        principals = PrincipalCache()
        cache: VersionedCache = RedisCache.from_url(config.redis_url) if config.redis_url else MemoryCache()
        stack.push_async_callback(cache.close)
        yield Runtime(
            config=config,
            db=db,
            expected_revision=head_revision(),
            principal_cache=principals,
            authenticator=IdentityAuthenticator(db, principals),
            jwt_verifier=jwt_verifier_for(config),
            cache=cache,
        )
