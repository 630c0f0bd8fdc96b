"""Oversight' permissions and the roles holding each."""

from __future__ import annotations

from enum import StrEnum


class Perm(StrEnum):
    API_LOGS_READ = "api_logs:read"
    FLAGS_ADMIN = "platform:flags"  # a platform operator's (decision 035): no org role holds it


GRANTS: dict[str, frozenset[str]] = {
    Perm.API_LOGS_READ: frozenset({"owner", "admin"}),
    Perm.FLAGS_ADMIN: frozenset(),
}
