"""The authenticated caller, resolved once per request by the authentication middleware."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ActorType(StrEnum):
    USER = "user"
    API_KEY = "api_key"
    SYSTEM = "system"
    OPERATOR = "operator"  # a platform operator's key: no org


# The org id an operator's principal carries: no org has it, so org-scoped reads find nothing.
OPERATOR_ORG = "platform"


@dataclass(frozen=True, slots=True)
class Principal:
    org_id: str
    actor_type: ActorType
    actor_id: str
    role: str
    permissions: frozenset[str]

    def has(self, perm: str) -> bool:
        return perm in self.permissions
