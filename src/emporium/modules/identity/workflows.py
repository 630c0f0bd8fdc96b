"""Identity workflows: one business outcome each, each owning its transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from emporium.modules.identity import services as store
from emporium.modules.identity.domain import (
    OPERATOR_PERMISSIONS,
    OPERATOR_ROLE,
    PEOPLE_ROLES,
    ApiKey,
    CaptureMode,
    EmailTaken,
    IssuedApiKey,
    LastOwner,
    Org,
    Role,
    RoleNotGrantable,
    RolePermissions,
    User,
    UserStatus,
    may_grant,
    may_manage,
    normalize_email,
    permissions_of,
)
from emporium.platform.audit import store as audit_store
from emporium.platform.audit.entries import AuditContext, AuditEntry, AuditFilter
from emporium.platform.auth.api_keys import display_prefix, generate_api_key, hash_api_key
from emporium.platform.auth.principal import OPERATOR_ORG, ActorType, Principal
from emporium.platform.db.engine import Database
from emporium.platform.db.transaction import transaction
from emporium.platform.db.tx import Tx
from emporium.platform.errors import FieldError, Forbidden, NotFound, ValidationFailed
from emporium.platform.ids import new_id
from emporium.platform.pagination import Page
from emporium.platform.telemetry.tracing import traced


@dataclass(frozen=True, slots=True)
class KeyAuthentication:
    principal: Principal
    valid_for_seconds: float | None  # until the key expires; None: no expiry


def _principal(org_id: str, actor_type: ActorType, actor_id: str, role: Role, held: RolePermissions) -> Principal:
    return Principal(org_id, actor_type, actor_id, role.value, permissions_of(role, held))


async def _issue_key(
    tx: Tx, *, org_id: str, name: str, role: Role, created_by: str, expires_at: datetime | None
) -> IssuedApiKey:
    secret = generate_api_key()
    key = await store.insert_api_key(
        tx,
        key_id=new_id("key"),
        org_id=org_id,
        name=name,
        role=role,
        display_prefix=display_prefix(secret),
        secret_hash=hash_api_key(secret),
        created_by=created_by,
        expires_at=expires_at,
    )
    return IssuedApiKey(key=key, secret=secret)


async def _create_org(tx: Tx, name: str, owner_email: str, owner_name: str) -> tuple[Org, User, IssuedApiKey]:
    org = await store.insert_org(tx, new_id("org"), name)
    owner = await store.insert_user(
        tx,
        user_id=new_id("usr"),
        org_id=org.id,
        email=normalize_email(owner_email),
        name=owner_name,
        role=Role.OWNER,
        status=UserStatus.ACTIVE,
    )
    assert owner is not None  # a brand-new org has no members to collide with
    issued = await _issue_key(
        tx, org_id=org.id, name="bootstrap owner key", role=Role.OWNER, created_by=owner.id, expires_at=None
    )
    system = AuditContext(org.id, ActorType.SYSTEM.value, "cli", "orgs_create", None, 201)
    await audit_store.record(tx, system, org.id)
    return org, owner, issued


@traced
async def create_org(db: Database, *, name: str, owner_email: str, owner_name: str = "Owner") -> IssuedApiKey:
    """Bootstrap: a new org, its owner, and an owner API key (the secret is returned once)."""
    async with transaction(db) as tx:
        _, _, issued = await _create_org(tx, name, owner_email, owner_name)
        await tx.commit()
    return issued


@traced
async def create_demo_org_if_empty(db: Database) -> IssuedApiKey | None:
    """Development convenience: on a database with no org, create a demo org and return its key."""
    async with transaction(db) as tx:
        await store.take_bootstrap_lock(tx)
        if await store.org_count(tx) > 0:
            return None
        _, _, issued = await _create_org(tx, "Demo shop", "owner@demo.example", "Demo owner")
        await tx.commit()
    return issued


# --- authentication -----------------------------------------------------------------------------


@traced
async def authenticate_api_key(db: Database, secret_hash: str, held: RolePermissions) -> KeyAuthentication | None:
    """An org's key, else a platform operator's key (decision 035), else None."""
    async with transaction(db) as tx:
        key = await store.find_usable_key_by_hash(tx, secret_hash)
        if key is None:
            operator_key_id = await store.find_usable_operator_key(tx, secret_hash)
            if operator_key_id is None:
                return None
            operator = Principal(OPERATOR_ORG, ActorType.OPERATOR, operator_key_id, OPERATOR_ROLE, OPERATOR_PERMISSIONS)
            return KeyAuthentication(operator, None)
        await store.touch_key_last_used(tx, key.id)
        await tx.commit()
    now = datetime.now(UTC)
    valid_for = None if key.expires_at is None else (key.expires_at - now).total_seconds()
    return KeyAuthentication(_principal(key.org_id, ActorType.API_KEY, key.id, key.role, held), valid_for)


@traced
async def authenticate_user(db: Database, org_id: str, user_ref: str, held: RolePermissions) -> Principal | None:
    """A verified token's user, if an active (or invited: first sign-in activates) member of the org."""
    async with transaction(db) as tx:
        user = await store.find_user_by_ref(tx, org_id, user_ref)
        if user is None or user.status is UserStatus.DEACTIVATED:
            return None
        if user.status is UserStatus.INVITED:
            await store.activate_invited_user(tx, user.id)
        await tx.commit()
    return _principal(user.org_id, ActorType.USER, user.id, user.role, held)


# --- org and users ------------------------------------------------------------------------------


@traced
async def update_org(
    db: Database, principal: Principal, audit: AuditContext, *, name: str | None, capture_mode: CaptureMode | None
) -> Org:
    changes = {k: v for k, v in {"name": name, "capture_mode": capture_mode}.items() if v is not None}
    async with transaction(db) as tx:
        org = (
            await store.update_org(tx, principal.org_id, **changes)
            if changes
            else await store.get_org(tx, principal.org_id)
        )
        if org is None:
            raise NotFound("the org no longer exists")
        await audit_store.record(tx, audit, org.id)
        await tx.commit()
    return org


@traced
async def get_org(db: Database, principal: Principal) -> Org:
    async with transaction(db) as tx:
        org = await store.get_org(tx, principal.org_id)
    if org is None:
        raise NotFound("the org no longer exists")
    return org


def _require_grantable(principal: Principal, role: Role, *, for_user: bool) -> None:
    if for_user and role not in PEOPLE_ROLES:
        raise ValidationFailed(
            f"{role.value!r} is a role for API keys, not people",
            errors=[FieldError("role", "people_role", "one of owner, admin, staff, viewer")],
        )
    if not may_grant(principal.role, role):
        raise RoleNotGrantable(f"a {principal.role} may not grant the {role.value!r} role")


@traced
async def invite_user(
    db: Database, principal: Principal, audit: AuditContext, *, email: str, name: str, role: Role
) -> User:
    _require_grantable(principal, role, for_user=True)
    async with transaction(db) as tx:
        user = await store.insert_user(
            tx,
            user_id=new_id("usr"),
            org_id=principal.org_id,
            email=normalize_email(email),
            name=name,
            role=role,
            status=UserStatus.INVITED,
        )
        if user is None:
            raise EmailTaken(f"{normalize_email(email)} is already a member of this org")
        await audit_store.record(tx, audit, user.id)
        await tx.commit()
    return user


@traced
async def list_users(
    db: Database, principal: Principal, *, cursor: str | None, limit: int, status: UserStatus | None
) -> Page[User]:
    async with transaction(db) as tx:
        return await store.list_users(tx, principal.org_id, cursor, limit, status)


@traced
async def get_user(db: Database, principal: Principal, user_id: str) -> User:
    async with transaction(db) as tx:
        user = await store.get_user(tx, principal.org_id, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    return user


async def _manageable_user(tx: Tx, principal: Principal, user_id: str) -> User:
    user = await store.get_user(tx, principal.org_id, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    if not may_manage(principal.role, user.role):
        raise Forbidden(f"a {principal.role} may not change an owner")
    return user


async def _keep_an_owner(tx: Tx, user: User) -> None:
    """Called before an owner loses the role or is deactivated; the org row lock serializes such changes."""
    if user.role is Role.OWNER and user.status is not UserStatus.DEACTIVATED:
        await store.lock_org(tx, user.org_id)
        if await store.count_active_owners(tx, user.org_id) <= 1:
            raise LastOwner("this is the org's last active owner; make someone else owner first")


@traced
async def update_user(db: Database, principal: Principal, audit: AuditContext, user_id: str, *, name: str) -> User:
    async with transaction(db) as tx:
        await _manageable_user(tx, principal, user_id)
        user = await store.update_user(tx, principal.org_id, user_id, name=name)
        if user is None:
            raise NotFound(f"no user {user_id}")
        await audit_store.record(tx, audit, user.id)
        await tx.commit()
    return user


@traced
async def change_user_role(
    db: Database, principal: Principal, audit: AuditContext, user_id: str, *, role: Role
) -> User:
    _require_grantable(principal, role, for_user=True)
    async with transaction(db) as tx:
        current = await _manageable_user(tx, principal, user_id)
        if role is not Role.OWNER:
            await _keep_an_owner(tx, current)
        user = await store.update_user(tx, principal.org_id, user_id, role=role)
        if user is None:
            raise NotFound(f"no user {user_id}")
        await audit_store.record(tx, audit, user.id)
        await tx.commit()
    return user


@traced
async def deactivate_user(db: Database, principal: Principal, audit: AuditContext, user_id: str) -> User:
    async with transaction(db) as tx:
        current = await _manageable_user(tx, principal, user_id)
        await _keep_an_owner(tx, current)
        user = await store.update_user(tx, principal.org_id, user_id, status=UserStatus.DEACTIVATED)
        if user is None:
            raise NotFound(f"no user {user_id}")
        await audit_store.record(tx, audit, user.id)
        await tx.commit()
    return user


# --- API keys -----------------------------------------------------------------------------------


@traced
async def create_api_key(
    db: Database,
    principal: Principal,
    audit: AuditContext,
    *,
    name: str,
    role: Role,
    expires_at: datetime | None,
) -> IssuedApiKey:
    _require_grantable(principal, role, for_user=False)
    if expires_at is not None and expires_at <= datetime.now(UTC):
        raise ValidationFailed(
            "expires_at must be in the future",
            errors=[FieldError("expires_at", "future", "must be later than now")],
        )
    async with transaction(db) as tx:
        issued = await _issue_key(
            tx, org_id=principal.org_id, name=name, role=role, created_by=principal.actor_id, expires_at=expires_at
        )
        await audit_store.record(tx, audit, issued.key.id)
        await tx.commit()
    return issued


@traced
async def list_api_keys(db: Database, principal: Principal, *, cursor: str | None, limit: int) -> Page[ApiKey]:
    async with transaction(db) as tx:
        return await store.list_api_keys(tx, principal.org_id, cursor, limit)


@traced
async def revoke_api_key(db: Database, principal: Principal, audit: AuditContext, key_id: str) -> ApiKey:
    async with transaction(db) as tx:
        existing = await store.get_api_key(tx, principal.org_id, key_id)
        if existing is None:
            raise NotFound(f"no API key {key_id}")
        if not may_manage(principal.role, existing.role):
            raise Forbidden(f"a {principal.role} may not revoke an owner key")
        key = await store.revoke_api_key(tx, principal.org_id, key_id) or existing  # revoking twice is a no-op
        await audit_store.record(tx, audit, key.id)
        await tx.commit()
    return key


# --- audit log ----------------------------------------------------------------------------------


@traced
async def list_audit_log(
    db: Database, principal: Principal, *, where: AuditFilter, cursor: str | None, limit: int
) -> Page[AuditEntry]:
    async with transaction(db) as tx:
        return await audit_store.list_entries(tx, principal.org_id, where, cursor, limit)


# --- platform operators -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IssuedOperatorKey:
    key_id: str
    secret: str


async def create_operator_key(db: Database, audit: AuditContext, *, name: str) -> IssuedOperatorKey:
    """A new platform operator key (shown once); audited in the platform's audit scope."""
    secret = generate_api_key()
    async with transaction(db) as tx:
        key_id = await store.insert_operator_key(
            tx,
            key_id=new_id("opk"),
            name=name,
            display_prefix=display_prefix(secret),
            secret_hash=hash_api_key(secret),
            created_by=audit.actor_id,
        )
        await audit_store.record(tx, audit, key_id)
        await tx.commit()
    return IssuedOperatorKey(key_id, secret)


async def revoke_operator_key(db: Database, audit: AuditContext, key_id: str) -> None:
    async with transaction(db) as tx:
        if not await store.revoke_operator_key(tx, key_id):
            raise NotFound(f"no usable operator key {key_id}")
        await audit_store.record(tx, audit, key_id)
        await tx.commit()
