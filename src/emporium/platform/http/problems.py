"""RFC 9457 problem details: the one place errors become HTTP responses.

Every error the API returns has `type`, `title`, `status`, `detail`, a stable
`code`, the `request_id`, and for validation failures `errors[]` naming the
field path, the rule broken and a message. Domain errors, FastAPI's request
validation, unknown routes and methods, and unexpected exceptions all come out
in this one shape.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from emporium.platform.errors import DomainError, FieldError, Unavailable

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:emporium:problem:"

_STATUS_CODES: Mapping[int, tuple[str, str]] = {
    400: ("bad_request", "Bad request"),
    401: ("unauthenticated", "Authentication required"),
    403: ("forbidden", "Not allowed"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    406: ("not_acceptable", "Not acceptable"),
    409: ("conflict", "Conflict with the current state"),
    413: ("payload_too_large", "Request body too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
    422: ("validation_failed", "The request is not valid"),
    429: ("rate_limited", "Too many requests"),
    500: ("internal_error", "Internal error"),
    503: ("unavailable", "Temporarily unavailable"),
}

_log = structlog.stdlib.get_logger("emporium.http")


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE


def problem_body(
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    instance: str | None = None,
    request_id: str | None = None,
    errors: Iterable[FieldError] = (),
    extensions: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_PREFIX + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance:
        body["instance"] = instance
    if request_id:
        body["request_id"] = request_id
    field_errors = [{"field": e.field, "rule": e.rule, "message": e.message} for e in errors]
    if field_errors:
        body["errors"] = field_errors
    if extensions:
        body.update({k: v for k, v in extensions.items() if k not in body})
    return body


def problem(
    status: int,
    detail: str,
    *,
    code: str | None = None,
    title: str | None = None,
    errors: Sequence[FieldError] = (),
    headers: Mapping[str, str] | None = None,
    instance: str | None = None,
    request_id: str | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> ProblemResponse:
    default_code, default_title = _STATUS_CODES.get(status, ("error", "Error"))
    body = problem_body(
        status=status,
        code=code or default_code,
        title=title or default_title,
        detail=detail,
        instance=instance,
        request_id=request_id,
        errors=errors,
        extensions=extensions,
    )
    return ProblemResponse(body, status_code=status, headers=dict(headers or {}))


def _request_id(request: Request) -> str | None:
    value = request.scope.get("state", {}).get("request_id")
    return value if isinstance(value, str) else None


def _field_path(loc: Sequence[int | str]) -> tuple[str, str]:
    """('body', 'lines', 0, 'qty') -> ('body', 'lines[0].qty')."""
    where = str(loc[0]) if loc else "body"
    path = ""
    for part in loc[1:]:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += ("." if path else "") + str(part)
    return where, path or where


def validation_errors(raw: Sequence[Any]) -> list[FieldError]:
    errors: list[FieldError] = []
    for item in raw:
        where, path = _field_path(tuple(item.get("loc", ())))
        rule = str(item.get("type", "invalid"))
        field = path if where == "body" else f"{where}.{path}" if path != where else where
        errors.append(FieldError(field=field, rule=rule, message=str(item.get("msg", "invalid value"))))
    return errors


async def _on_domain_error(request: Request, error: Exception) -> ProblemResponse:
    assert isinstance(error, DomainError)
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, Unavailable) else None
    return problem(
        error.status,
        error.detail,
        code=error.code,
        title=error.title,
        errors=error.errors,
        headers=headers,
        instance=request.url.path,
        request_id=_request_id(request),
        extensions=error.extensions,
    )


async def _on_validation_error(request: Request, error: Exception) -> ProblemResponse:
    assert isinstance(error, RequestValidationError)
    errors = validation_errors(error.errors())
    detail = "; ".join(f"{e.field}: {e.message}" for e in errors[:5]) or "the request is not valid"
    return problem(422, detail, errors=errors, instance=request.url.path, request_id=_request_id(request))


async def _on_http_exception(request: Request, error: Exception) -> ProblemResponse:
    assert isinstance(error, StarletteHTTPException)
    detail = error.detail if isinstance(error.detail, str) else "request failed"
    if error.status_code == 404 and detail == "Not Found":
        detail = f"no route matches {request.method} {request.url.path}"
    headers = dict(error.headers or {})
    if error.status_code == 405:
        allowed = allowed_methods(request)
        headers["Allow"] = ", ".join(allowed)
        detail = f"{request.method} is not allowed on {request.url.path}; it takes {', '.join(allowed)}"
    return problem(
        error.status_code,
        detail,
        headers=headers,
        instance=request.url.path,
        request_id=_request_id(request),
    )


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route takes on this path: Starlette's Allow names only the first route that matched it."""
    allowed = []
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return allowed


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _on_domain_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
