"""The authenticated caller, resolved once per request by the authentication middleware."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from emporium.platform.auth.perms import Perm


class ActorType(StrEnum):
    USER = "user"
    API_KEY = "api_key"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Principal:
    org_id: str
    actor_type: ActorType
    actor_id: str
    role: str
    permissions: frozenset[Perm]

    def has(self, perm: Perm) -> bool:
        return perm in self.permissions
