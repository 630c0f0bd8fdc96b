"""`/livez` and `/readyz`: public, unversioned probes for load balancers and orchestrators."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter
from pydantic import BaseModel

from emporium.platform.errors import Unavailable
from emporium.platform.health import Readiness


class NotReady(Unavailable):
    code = "not_ready"
    title = "Not ready to serve"


class HealthOut(BaseModel):
    status: str


def health_router(check_readiness: Callable[[], Awaitable[Readiness]]) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/livez", operation_id="health_live", response_model=HealthOut)
    async def livez() -> HealthOut:
        return HealthOut(status="ok")

    @router.get(
        "/readyz",
        operation_id="health_ready",
        response_model=HealthOut,
        responses={503: {"description": "Not ready: database unreachable or schema not at head"}},
    )
    async def readyz() -> HealthOut:
        readiness = await check_readiness()
        if not readiness.ready:
            raise NotReady(readiness.reason, retry_after=1)
        return HealthOut(status="ok")

    return router
