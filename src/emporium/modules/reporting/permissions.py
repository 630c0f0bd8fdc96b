"""Reporting's permission and the roles holding it: the people who run the shop's books, not the storefront."""

from __future__ import annotations

from enum import StrEnum


class Perm(StrEnum):
    REPORTS_READ = "reports:read"


GRANTS: dict[str, frozenset[str]] = {
    Perm.REPORTS_READ: frozenset({"owner", "admin", "backoffice"}),
}
