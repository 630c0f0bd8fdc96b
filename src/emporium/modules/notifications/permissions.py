"""Notifications' permissions (webhook endpoints) and the roles holding each."""

from __future__ import annotations

from enum import StrEnum


class Perm(StrEnum):
    WEBHOOKS_READ = "webhooks:read"
    WEBHOOKS_WRITE = "webhooks:write"


GRANTS: dict[str, frozenset[str]] = {
    Perm.WEBHOOKS_READ: frozenset({"owner", "admin", "backoffice"}),
    Perm.WEBHOOKS_WRITE: frozenset({"owner", "admin"}),
}
