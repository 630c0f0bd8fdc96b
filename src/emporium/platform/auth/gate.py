"""`auth_gate(request, perm)`: the first line of every non-public handler.

No principal -> 401 (with the reason the credentials were refused, if any);
a principal without `perm` -> 403. The middleware before it never rejects.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from emporium.platform.auth.principal import Principal
from emporium.platform.errors import Forbidden, Unauthenticated
from emporium.platform.http.routing import PrefixCheckedRoute

PRINCIPAL_KEY = "principal"
AUTH_ERROR_KEY = "auth_error"
GATED_MARK = "x-emporium-gated"


def current_principal(request: HTTPConnection) -> Principal | None:
    principal = request.scope.get("state", {}).get(PRINCIPAL_KEY)
    return principal if isinstance(principal, Principal) else None


def authenticated(request: HTTPConnection) -> Principal:
    principal = current_principal(request)
    if principal is None:
        reason = request.scope.get("state", {}).get(AUTH_ERROR_KEY) or "no credentials were sent"
        raise Unauthenticated(f"{reason}; send `Authorization: Bearer <API key or JWT>`")
    return principal


def auth_gate(request: HTTPConnection, perm: str) -> Principal:
    principal = authenticated(request)
    if not principal.has(perm):
        raise Forbidden(f"role {principal.role!r} lacks the permission {str(perm)!r}", permission=str(perm))
    return principal


class GatedRoute(PrefixCheckedRoute):
    """The route class of every non-public router: no principal, no parsing.

    FastAPI validates parameters and the body before the handler runs, so
    without this an anonymous caller with a malformed body would get a 422
    (learning the schema) instead of a 401. Handlers still open with
    `auth_gate(request, perm)`, which decides the permission (403).
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        # Marks the operation in the OpenAPI document as needing credentials (see platform.http.openapi).
        kwargs["openapi_extra"] = {**(kwargs.get("openapi_extra") or {}), GATED_MARK: True}
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def gated(request: Request) -> Response:
            authenticated(request)
            return await handler(request)

        return gated
