"""`GET /metrics`: Prometheus text format, sampling the gauges that are read rather than counted."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import Response

from emporium.platform.telemetry.metrics import render


def metrics_router(
    sample: Callable[[], Awaitable[None]], multiprocess_directory: Callable[[], Path | None]
) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/metrics", operation_id="metrics_scrape", include_in_schema=True, response_class=Response)
    async def metrics() -> Response:
        await sample()
        body, content_type = render(multiprocess_directory())
        return Response(content=body, media_type=content_type)

    return router
