"""Catalog's permissions and the roles holding each."""

from __future__ import annotations

from enum import StrEnum

from emporium.platform.auth.perms import EVERY_ROLE

_EDITORS = frozenset({"owner", "admin", "staff", "backoffice"})


class Perm(StrEnum):
    CATALOG_READ = "catalog:read"
    CATALOG_WRITE = "catalog:write"
    INVENTORY_WRITE = "inventory:write"


GRANTS: dict[str, frozenset[str]] = {
    Perm.CATALOG_READ: EVERY_ROLE,
    Perm.CATALOG_WRITE: _EDITORS,
    Perm.INVENTORY_WRITE: _EDITORS,
}
