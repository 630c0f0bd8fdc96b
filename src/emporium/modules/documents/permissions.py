"""Documents' permissions and the roles holding each.

`documents:read` is held by the roles that read orders (`orders:read`): a document shows nothing the order
itself does not (decision 030).
"""

from __future__ import annotations

from enum import StrEnum


class Perm(StrEnum):
    DOCUMENTS_READ = "documents:read"


GRANTS: dict[str, frozenset[str]] = {
    Perm.DOCUMENTS_READ: frozenset({"owner", "admin", "staff", "viewer", "backoffice"}),
}
