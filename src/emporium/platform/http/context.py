"""What a handler derives from the request for its workflow (no business rules)."""

from __future__ import annotations

from starlette.requests import Request

from emporium.platform.audit.entries import AuditContext
from emporium.platform.audit.middleware import action_of
from emporium.platform.auth.principal import Principal


def request_id_of(request: Request) -> str | None:
    value = request.scope.get("state", {}).get("request_id")
    return value if isinstance(value, str) else None


def audit_context(request: Request, principal: Principal) -> AuditContext:
    """Audit details for a write: the route's operation id names the action."""
    route = request.scope.get("route")
    status = getattr(route, "status_code", None) or 200
    return AuditContext.of(principal, action_of(request.scope), request_id_of(request), status)
