"""Webhook endpoints, declared for the CRUD engine."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from emporium.modules.notifications.domain import generate_signing_secret, secret_hint
from emporium.modules.notifications.permissions import Perm
from emporium.modules.notifications.schemas import (
    WebhookEndpointCreatedOut,
    WebhookEndpointIn,
    WebhookEndpointOut,
    WebhookEndpointRotatedOut,
    WebhookEndpointUpdate,
)
from emporium.modules.notifications.tables import webhook_endpoint
from emporium.modules.notifications.workflows import check_endpoint_url
from emporium.platform.crud.resource import Filter, HookContext, Hooks, Permissions, Resource, Row
from emporium.platform.crud.workflows import CrudWorkflows
from emporium.platform.db.tx import Tx


def endpoint_row(body: BaseModel) -> Row:
    data: dict[str, Any] = body.model_dump(exclude_unset=True)
    if "url" in data:
        data["url"] = str(data["url"])
    return data


def endpoint_out(row: Row) -> WebhookEndpointOut:
    return WebhookEndpointOut(
        id=row["id"],
        url=row["url"],
        description=row["description"],
        event_types=list(row["event_types"]),
        enabled=row["enabled"],
        disabled_reason=row["disabled_reason"],
        secret_hint=secret_hint(row["secret"]),
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def endpoint_created(row: Row) -> WebhookEndpointCreatedOut:
    return WebhookEndpointCreatedOut(**endpoint_out(row).model_dump(), secret=row["secret"])


async def _before_create(tx: Tx, ctx: HookContext, values: Row) -> Row:
    await check_endpoint_url(values["url"])
    return {**values, "secret": generate_signing_secret()}


async def _before_update(tx: Tx, ctx: HookContext, current: Row, changes: Row) -> Row:
    if "url" in changes:
        await check_endpoint_url(changes["url"])
    if changes.get("enabled") is True and not current["enabled"]:
        changes = {**changes, "failing_since": None, "disabled_reason": None}  # a fresh start
    return changes


def endpoint_rotated(row: Row) -> WebhookEndpointRotatedOut:
    return WebhookEndpointRotatedOut(
        **endpoint_created(row).model_dump(), previous_secret_expires_at=row["previous_secret_expires_at"]
    )


webhook_endpoint_resource = Resource(
    name="webhook_endpoints",
    path="/v1/webhook-endpoints",
    id_prefix="whe",
    table=webhook_endpoint,
    read_schema=WebhookEndpointOut,
    create_schema=WebhookEndpointIn,
    update_schema=WebhookEndpointUpdate,
    permissions=Permissions(
        read=Perm.WEBHOOKS_READ, create=Perm.WEBHOOKS_WRITE, update=Perm.WEBHOOKS_WRITE, delete=Perm.WEBHOOKS_WRITE
    ),
    to_row=endpoint_row,
    from_row=endpoint_out,
    filters={"enabled": Filter("enabled", bool, example="true")},
    sortable={"created_at": "created_at"},
    hooks=Hooks(before_create=_before_create, before_update=_before_update),
    create_response=endpoint_created,
)
webhook_endpoint_crud = CrudWorkflows(webhook_endpoint_resource)
