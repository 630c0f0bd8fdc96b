"""Orgs, members and credentials for tests, created through identity's own workflows."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import jwt

from emporium.bootstrap.authorization import role_permissions
from emporium.modules.identity import workflows
from emporium.modules.identity.domain import Role, User, permissions_of
from emporium.platform.audit.entries import AuditContext
from emporium.platform.auth.principal import ActorType, Principal
from emporium.platform.db.engine import Database

JWT_SECRET = "test-only-hs256-secret-of-forty-characters!"
METRICS_TOKEN = "metrics-token-for-tests"  # the scrape credential of /metrics (METRICS_TOKEN)
JWT_ISSUER = "https://idp.emporium.test/"
JWT_AUDIENCE = "emporium-api"


def mint_token(
    claims: dict[str, Any] | None = None, *, key: Any = JWT_SECRET, algorithm: str = "HS256", **headers: Any
) -> str:
    now = int(time.time())
    body: dict[str, Any] = {"iss": JWT_ISSUER, "aud": JWT_AUDIENCE, "iat": now, "exp": now + 300}
    body.update(claims or {})
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode(body, key, algorithm=algorithm, headers=headers or None)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Tenant:
    org_id: str
    owner_key: str
    owner_principal: Principal
    storefront_key: str
    members: dict[Role, User] = field(default_factory=dict)

    def token_for(self, role: Role, **claims: Any) -> str:
        return mint_token({"sub": self.members[role].id, "org_id": self.org_id, **claims})

    def headers_for(self, role: Role) -> dict[str, str]:
        return bearer(self.token_for(role))


def setup_audit(principal: Principal) -> AuditContext:
    return AuditContext.of(principal, "test_setup", None, 201)


async def make_tenant(db: Database, name: str) -> Tenant:
    slug = secrets.token_hex(3)
    issued = await workflows.create_org(db, name=name, owner_email=f"founder@{slug}.example.com")
    org_id = issued.key.org_id
    owner = Principal(
        org_id, ActorType.API_KEY, issued.key.id, Role.OWNER.value, permissions_of(Role.OWNER, role_permissions())
    )
    storefront = await workflows.create_api_key(
        db, owner, setup_audit(owner), name="storefront", role=Role.STOREFRONT, expires_at=None
    )
    tenant = Tenant(org_id=org_id, owner_key=issued.secret, owner_principal=owner, storefront_key=storefront.secret)
    for role in (Role.OWNER, Role.ADMIN, Role.STAFF, Role.VIEWER):
        tenant.members[role] = await workflows.invite_user(
            db,
            owner,
            setup_audit(owner),
            email=f"{role.value}@{slug}.example.com",
            name=f"{role.value} user",
            role=role,
        )
    return tenant


async def throwaway_user(db: Database, tenant: Tenant, role: Role = Role.STAFF) -> User:
    owner = tenant.owner_principal
    return await workflows.invite_user(
        db, owner, setup_audit(owner), email=f"temp-{secrets.token_hex(4)}@example.com", name="Temp", role=role
    )


async def throwaway_key(db: Database, tenant: Tenant, role: Role = Role.STOREFRONT) -> str:
    owner = tenant.owner_principal
    issued = await workflows.create_api_key(db, owner, setup_audit(owner), name="temp", role=role, expires_at=None)
    return issued.key.id


async def operator_key(db: Database) -> str:
    """A fresh platform operator key (the secret)."""
    audit = AuditContext("platform", "system", "tests", "operator_keys_create", None, 201)
    return (await workflows.create_operator_key(db, audit, name=f"op-{secrets.token_hex(3)}")).secret
