"""Notifications HTTP routes: webhook endpoints (the CRUD engine), secret rotation, deliveries and attempts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from emporium.modules.notifications import workflows
from emporium.modules.notifications.domain import DeliveryStatus
from emporium.modules.notifications.permissions import Perm
from emporium.modules.notifications.resources import endpoint_rotated, webhook_endpoint_crud, webhook_endpoint_resource
from emporium.modules.notifications.schemas import (
    WebhookAttemptListOut,
    WebhookAttemptOut,
    WebhookDeliveryOut,
    WebhookDeliveryPageOut,
    WebhookEndpointRotatedOut,
)
from emporium.platform.auth.gate import GatedRoute, auth_gate
from emporium.platform.crud.handlers import crud_router
from emporium.platform.http.context import audit_context
from emporium.platform.http.paging import Cursor, Limit
from emporium.platform.http.state import database_of
from emporium.platform.pagination import DEFAULT_LIMIT

router = APIRouter()
router.include_router(crud_router(webhook_endpoint_resource, webhook_endpoint_crud))

webhooks = APIRouter(route_class=GatedRoute, tags=["webhook_endpoints"])


@webhooks.post("/v1/webhook-endpoints/{id}/rotate-secret", operation_id="webhook_endpoints_rotate_secret")
async def rotate_secret(request: Request, id: str) -> WebhookEndpointRotatedOut:
    """A new signing secret, shown once; the previous one still signs (a second signature) for 24 hours."""
    principal = auth_gate(request, Perm.WEBHOOKS_WRITE)
    row = await workflows.rotate_secret(database_of(request), principal, audit_context(request, principal), id)
    return endpoint_rotated(row)


@webhooks.get("/v1/webhook-deliveries", operation_id="webhook_deliveries_list", tags=["webhook_deliveries"])
async def list_deliveries(
    request: Request,
    endpoint_id: Annotated[str | None, Query(max_length=64, description="Only this endpoint's deliveries.")] = None,
    status: Annotated[DeliveryStatus | None, Query(description="pending, succeeded or dead.")] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> WebhookDeliveryPageOut:
    """Deliveries, newest first."""
    principal = auth_gate(request, Perm.WEBHOOKS_READ)
    page = await workflows.list_deliveries(
        database_of(request), principal, endpoint_id=endpoint_id, status=status, cursor=cursor, limit=limit
    )
    return WebhookDeliveryPageOut(items=[WebhookDeliveryOut.of(r) for r in page.items], next_cursor=page.next_cursor)


@webhooks.get(
    "/v1/webhook-deliveries/{id}/attempts", operation_id="webhook_deliveries_attempts", tags=["webhook_deliveries"]
)
async def delivery_attempts(request: Request, id: str) -> WebhookAttemptListOut:
    """Every attempt of a delivery: status code, error, duration and time."""
    principal = auth_gate(request, Perm.WEBHOOKS_READ)
    rows = await workflows.delivery_attempts(database_of(request), principal, id)
    return WebhookAttemptListOut(items=[WebhookAttemptOut.of(r) for r in rows])


@webhooks.post(
    "/v1/webhook-deliveries/{id}/replay", operation_id="webhook_deliveries_replay", tags=["webhook_deliveries"]
)
async def replay_delivery(request: Request, id: str) -> WebhookDeliveryOut:
    """Send a dead (or succeeded) delivery again with the same `webhook-id` and a fresh retry schedule."""
    principal = auth_gate(request, Perm.WEBHOOKS_WRITE)
    row = await workflows.replay_delivery(database_of(request), principal, audit_context(request, principal), id)
    return WebhookDeliveryOut.of(row)


router.include_router(webhooks)
