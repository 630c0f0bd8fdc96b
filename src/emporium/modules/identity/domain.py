"""Identity rules as data and pure functions: roles, their permissions, who may grant what."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from emporium.platform.auth.perms import Perm
from emporium.platform.errors import Conflict, Forbidden


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    STAFF = "staff"
    VIEWER = "viewer"
    STOREFRONT = "storefront"  # API keys that browse the catalog and place orders
    BACKOFFICE = "backoffice"  # API keys of integrations (ERP, fulfilment, ...)


PEOPLE_ROLES = frozenset({Role.OWNER, Role.ADMIN, Role.STAFF, Role.VIEWER})

_EVERYONE = frozenset(Role)

# Which roles hold each permission. Every endpoint maps to exactly one Perm.
PERMISSION_HOLDERS: dict[Perm, frozenset[Role]] = {
    Perm.WHOAMI: _EVERYONE,
    Perm.ORG_READ: _EVERYONE,
    Perm.ORG_WRITE: frozenset({Role.OWNER, Role.ADMIN}),
    Perm.USERS_READ: frozenset({Role.OWNER, Role.ADMIN, Role.STAFF, Role.VIEWER, Role.BACKOFFICE}),
    Perm.USERS_WRITE: frozenset({Role.OWNER, Role.ADMIN}),
    Perm.API_KEYS_READ: frozenset({Role.OWNER, Role.ADMIN}),
    Perm.API_KEYS_WRITE: frozenset({Role.OWNER, Role.ADMIN}),
    Perm.AUDIT_READ: frozenset({Role.OWNER, Role.ADMIN}),
    Perm.CATALOG_READ: _EVERYONE,
    Perm.CATALOG_WRITE: frozenset({Role.OWNER, Role.ADMIN, Role.STAFF, Role.BACKOFFICE}),
    Perm.INVENTORY_WRITE: frozenset({Role.OWNER, Role.ADMIN, Role.STAFF, Role.BACKOFFICE}),
    Perm.ORDERS_READ: frozenset({Role.OWNER, Role.ADMIN, Role.STAFF, Role.VIEWER, Role.BACKOFFICE}),
    Perm.ORDERS_WRITE: frozenset({Role.OWNER, Role.ADMIN, Role.STAFF, Role.STOREFRONT, Role.BACKOFFICE}),
    Perm.ORDERS_MANAGE: frozenset({Role.OWNER, Role.ADMIN, Role.STAFF, Role.BACKOFFICE}),
    Perm.REFUNDS_WRITE: frozenset({Role.OWNER, Role.ADMIN}),
    Perm.WEBHOOKS_READ: frozenset({Role.OWNER, Role.ADMIN, Role.BACKOFFICE}),
    Perm.WEBHOOKS_WRITE: frozenset({Role.OWNER, Role.ADMIN}),
    Perm.EVENTS_ADMIN: frozenset({Role.OWNER, Role.ADMIN}),
    Perm.PAYMENTS_READ: frozenset({Role.OWNER, Role.ADMIN, Role.STAFF, Role.BACKOFFICE, Role.VIEWER}),
    Perm.PAYMENTS_WRITE: frozenset({Role.OWNER, Role.ADMIN, Role.BACKOFFICE}),
}

ROLE_PERMISSIONS: dict[Role, frozenset[Perm]] = {
    role: frozenset(perm for perm, holders in PERMISSION_HOLDERS.items() if role in holders) for role in Role
}

# Higher may grant lower; only an owner may create or touch another owner.
_RANK = {Role.OWNER: 3, Role.ADMIN: 2, Role.STAFF: 1, Role.VIEWER: 0, Role.STOREFRONT: 0, Role.BACKOFFICE: 1}


class UserStatus(StrEnum):
    INVITED = "invited"
    ACTIVE = "active"
    DEACTIVATED = "deactivated"


def may_grant(actor_role: str, role: Role) -> bool:
    """Whether an actor with `actor_role` may give `role` to a user or an API key."""
    actor = Role(actor_role)
    if role is Role.OWNER:
        return actor is Role.OWNER
    return _RANK[actor] >= _RANK[Role.ADMIN] and _RANK[actor] >= _RANK[role]


def may_manage(actor_role: str, target_role: Role) -> bool:
    """Whether an actor may change or deactivate someone who currently holds `target_role`."""
    return target_role is not Role.OWNER or Role(actor_role) is Role.OWNER


def normalize_email(email: str) -> str:
    return email.strip().lower()


class CaptureMode(StrEnum):
    IMMEDIATE = "immediate"
    ON_FULFILLMENT = "on_fulfillment"


@dataclass(frozen=True, slots=True)
class Org:
    id: str
    name: str
    capture_mode: CaptureMode
    created_at: datetime


@dataclass(frozen=True, slots=True)
class User:
    id: str
    org_id: str
    email: str
    name: str
    role: Role
    status: UserStatus
    version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    org_id: str
    name: str
    role: Role
    display_prefix: str
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    def is_usable(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


@dataclass(frozen=True, slots=True)
class IssuedApiKey:
    """A key at creation: the only moment the secret exists outside the caller's hands."""

    key: ApiKey
    secret: str


class LastOwner(Conflict):
    code = "last_owner"
    title = "An org must keep an active owner"


class EmailTaken(Conflict):
    code = "email_taken"
    title = "That email is already a member of this org"


class RoleNotGrantable(Forbidden):
    code = "role_not_grantable"
    title = "You may not grant that role"


def permissions_of(role: Role) -> frozenset[Perm]:
    return ROLE_PERMISSIONS[role]
