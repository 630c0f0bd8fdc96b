"""The outermost ASGI middleware: request id, access log, and a last-resort 500.

Pure ASGI (not BaseHTTPMiddleware) so it adds no task or copy per request.
It answers an unexpected exception with a problem+json 500 that carries the
request id and no stack trace; the trace goes to the log instead.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import structlog
from opentelemetry import trace
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emporium.platform.http.problems import PROBLEM_MEDIA_TYPE, problem_body
from emporium.platform.ids import new_id
from emporium.platform.requestlog.buffer import RequestLogBuffer
from emporium.platform.telemetry.logging import AccessLog
from emporium.platform.telemetry.metrics import HTTP_DURATION, HTTP_IN_FLIGHT, HTTP_REQUESTS, status_class

REQUEST_ID_HEADER = b"x-request-id"
_VALID_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")

_log = structlog.stdlib.get_logger("emporium.access")
_access = AccessLog("emporium.access")


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER:
            return value.decode("ascii") if _VALID_REQUEST_ID.match(value) else None
    return None


def route_template(scope: Scope) -> str:
    """The matched route's path template (`/v1/orders/{id}`), never the raw path."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "<unmatched>"


def request_span_details(scope: Scope) -> tuple[str, dict[str, Any]]:
    """The request span's name when it starts: the method (the route is not matched yet); the request
    context renames it `<method> <route template>` once the router has matched one."""
    return str(scope.get("method", "HTTP")), {}


def _name_request_span(method: str, route: str) -> None:
    span = trace.get_current_span()
    if span.is_recording():
        span.update_name(f"{method} {route}")
        span.set_attribute("http.route", route)


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, request_log: RequestLogBuffer | None = None) -> None:
        self.app = app
        self.request_log = request_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request_id = _incoming_request_id(scope) or new_id("req")
        HTTP_IN_FLIGHT.inc()
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_request_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                # Now, not when the request ends: the request span ends with the response's last message.
                _name_request_span(scope["method"], route_template(scope))
                headers = list(message.get("headers", ()))
                headers.append((REQUEST_ID_HEADER, request_id.encode("ascii")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        except Exception:
            _log.exception("unhandled_error", method=scope["method"], path=scope["path"])
            if not response_started:
                await _send_internal_error(send_with_request_id, scope, request_id)
        finally:
            elapsed = time.perf_counter() - started
            route = route_template(scope)
            HTTP_IN_FLIGHT.dec()
            labels = (route, scope["method"], status_class(status))
            HTTP_REQUESTS.labels(*labels).inc()
            HTTP_DURATION.labels(*labels).observe(elapsed)
            if self.request_log is not None:  # an append: the request log's writer does the rest, off this path
                self.request_log.append(
                    (time.time(), scope["state"], route, scope["method"], status, elapsed, scope["headers"])
                )
            _access.request(
                method=scope["method"],
                route=route,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
            )
            structlog.contextvars.clear_contextvars()


async def _send_internal_error(send: Send, scope: Scope, request_id: str) -> None:
    body: dict[str, Any] = problem_body(
        status=500,
        code="internal_error",
        title="Internal error",
        detail="an unexpected error occurred; it has been logged with this request_id",
        instance=scope["path"],
        request_id=request_id,
    )
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [
                (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
