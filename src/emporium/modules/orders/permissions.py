"""Orders' permissions and the roles holding each."""

from __future__ import annotations

from enum import StrEnum


class Perm(StrEnum):
    ORDERS_READ = "orders:read"
    ORDERS_WRITE = "orders:write"
    ORDERS_MANAGE = "orders:manage"
    REFUNDS_WRITE = "refunds:write"


GRANTS: dict[str, frozenset[str]] = {
    Perm.ORDERS_READ: frozenset({"owner", "admin", "staff", "viewer", "backoffice"}),
    Perm.ORDERS_WRITE: frozenset({"owner", "admin", "staff", "storefront", "backoffice"}),
    Perm.ORDERS_MANAGE: frozenset({"owner", "admin", "staff", "backoffice"}),
    Perm.REFUNDS_WRITE: frozenset({"owner", "admin"}),
}
