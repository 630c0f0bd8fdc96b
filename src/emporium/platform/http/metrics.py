"""`GET /metrics`: Prometheus text format, behind a bearer token of its own.

The counters span every org (payment outcomes, per-route errors), so the
endpoint is never public: without `METRICS_TOKEN` it answers 404, with it a
scrape must send `Authorization: Bearer <token>` (compared in constant time).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response

from emporium.platform.http.problems import problem
from emporium.platform.telemetry.metrics import render


def metrics_router(
    sample: Callable[[], Awaitable[None]], multiprocess_directory: Callable[[], Path | None], token: str | None
) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get(
        "/metrics",
        operation_id="metrics_scrape",
        include_in_schema=True,
        response_class=Response,
        summary="Prometheus metrics (send `Authorization: Bearer <METRICS_TOKEN>`)",
        responses={401: {"description": "No or a wrong metrics token"}, 404: {"description": "METRICS_TOKEN is unset"}},
    )
    async def metrics(request: Request) -> Response:
        where = {"instance": request.url.path, "request_id": request.scope.get("state", {}).get("request_id")}
        if not token:
            return problem(
                404, "metrics are off: set METRICS_TOKEN and scrape with it", code="metrics_disabled", **where
            )
        sent = request.headers.get("authorization", "")
        if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
            return problem(
                401,
                "send `Authorization: Bearer <METRICS_TOKEN>`",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
                **where,
            )
        await sample()
        body, content_type = render(multiprocess_directory())
        return Response(content=body, media_type=content_type)

    return router
