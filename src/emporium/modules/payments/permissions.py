"""Payments' permissions and the roles holding each."""

from __future__ import annotations

from enum import StrEnum


class Perm(StrEnum):
    PAYMENTS_READ = "payments:read"
    PAYMENTS_WRITE = "payments:write"


GRANTS: dict[str, frozenset[str]] = {
    Perm.PAYMENTS_READ: frozenset({"owner", "admin", "staff", "backoffice", "viewer"}),
    Perm.PAYMENTS_WRITE: frozenset({"owner", "admin", "backoffice"}),
}
