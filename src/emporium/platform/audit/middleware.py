"""Records mutating requests that did not succeed (4xx/5xx) from an authenticated caller.

Successful writes are audited by their workflow inside the same transaction;
this covers the rest (refused by auth_gate, invalid, conflicting, failed), so
every mutating request leaves a trace. Anonymous requests have no org to
attribute them to and are left to the access log.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emporium.platform.audit.entries import AuditContext
from emporium.platform.audit.workflows import record_failed_request
from emporium.platform.auth.gate import PRINCIPAL_KEY
from emporium.platform.auth.principal import Principal
from emporium.platform.db.engine import Database

MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_log = structlog.stdlib.get_logger("emporium.audit")


def action_of(scope: Scope) -> str:
    """The route's operation id: the stable name of what was attempted."""
    route = scope.get("route")
    name = getattr(route, "operation_id", None) or getattr(route, "name", None)
    return str(name) if name else f"{scope['method']} <unmatched>"


class AuditFailuresMiddleware:
    def __init__(self, app: ASGIApp, database: Callable[[Scope], Database | None]) -> None:
        self.app = app
        self.database = database

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in MUTATING_METHODS:
            await self.app(scope, receive, send)
            return
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            principal = scope.get("state", {}).get(PRINCIPAL_KEY)
            db = self.database(scope)
            if status >= 400 and isinstance(principal, Principal) and db is not None:
                context = AuditContext.of(principal, action_of(scope), scope["state"].get("request_id"))
                target = scope.get("path_params", {}).get("id")
                try:
                    await record_failed_request(db, context, target, status)
                except Exception:  # the audit write must not turn an answered request into an error
                    _log.exception("audit_write_failed", action=context.action, status=status)
