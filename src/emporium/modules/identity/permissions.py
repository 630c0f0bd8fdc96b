"""Identity's permissions and the roles holding each (role names are `domain.Role` values)."""

from __future__ import annotations

from enum import StrEnum

from emporium.platform.auth.perms import EVERY_ROLE

ADMINS = frozenset({"owner", "admin"})


class Perm(StrEnum):
    WHOAMI = "auth:whoami"
    ORG_READ = "org:read"
    ORG_WRITE = "org:write"
    USERS_READ = "users:read"
    USERS_WRITE = "users:write"
    API_KEYS_READ = "api_keys:read"
    API_KEYS_WRITE = "api_keys:write"
    AUDIT_READ = "audit:read"


GRANTS: dict[str, frozenset[str]] = {
    Perm.WHOAMI: EVERY_ROLE,
    Perm.ORG_READ: EVERY_ROLE,
    Perm.ORG_WRITE: ADMINS,
    Perm.USERS_READ: frozenset({"owner", "admin", "staff", "viewer", "backoffice"}),
    Perm.USERS_WRITE: ADMINS,
    Perm.API_KEYS_READ: ADMINS,
    Perm.API_KEYS_WRITE: ADMINS,
    Perm.AUDIT_READ: ADMINS,
}
