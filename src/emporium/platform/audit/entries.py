"""What an audit entry says, independent of storage."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from emporium.platform.auth.principal import Principal


@dataclass(frozen=True, slots=True)
class AuditContext:
    """Who is acting, for which request, and how the edge names the action.

    Built by the handler and passed to the workflow, which records it in its
    own transaction when the change succeeds.
    """

    org_id: str
    actor_type: str
    actor_id: str
    action: str
    request_id: str | None
    success_status: int = 200

    @classmethod
    def of(cls, principal: Principal, action: str, request_id: str | None, success_status: int = 200) -> AuditContext:
        return cls(principal.org_id, principal.actor_type.value, principal.actor_id, action, request_id, success_status)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: str
    org_id: str
    actor_type: str
    actor_id: str
    action: str
    target_id: str | None
    request_id: str | None
    status: int
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class AuditFilter:
    actor_id: str | None = None
    action: str | None = None
    target_id: str | None = None
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None
