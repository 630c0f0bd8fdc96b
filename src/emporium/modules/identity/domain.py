"""Identity rules as data and pure functions: roles, their permissions, who may grant what."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from emporium.platform.errors import Conflict, Forbidden


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    STAFF = "staff"
    VIEWER = "viewer"
    STOREFRONT = "storefront"  # API keys that browse the catalog and place orders
    BACKOFFICE = "backoffice"  # API keys of integrations (ERP, fulfilment, ...)


PEOPLE_ROLES = frozenset({Role.OWNER, Role.ADMIN, Role.STAFF, Role.VIEWER})

# Role -> the permissions it holds: built by the application from every module's grants (their manifests).
RolePermissions = Mapping[str, frozenset[str]]

# A platform operator (decision 035) is not an org member: its keys carry these and nothing org-scoped.
# `platform:flags` is the oversight module's flag permission (a module may not import another's; the
# name is checked against the manifests by tests/unit/test_identity_rules.py).
OPERATOR_ROLE = "operator"
OPERATOR_PERMISSIONS: frozenset[str] = frozenset({"auth:whoami", "platform:flags"})

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


def permissions_of(role: Role, held: RolePermissions) -> frozenset[str]:
    return held.get(role.value, frozenset())
