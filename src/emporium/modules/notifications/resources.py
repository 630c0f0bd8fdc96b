"""Webhook endpoints, declared once around their read model for the CRUD engine."""

from __future__ import annotations

from emporium.modules.notifications.domain import secret_hint
from emporium.modules.notifications.permissions import Perm
from emporium.modules.notifications.schemas import (
    WebhookEndpointCreatedOut,
    WebhookEndpointIn,
    WebhookEndpointOut,
    WebhookEndpointRotatedOut,
    WebhookEndpointUpdate,
)
from emporium.modules.notifications.tables import webhook_endpoint
from emporium.modules.notifications.workflows import ENDPOINT_RULES
from emporium.platform.crud.resource import Filter, Permissions, Resource, Row, StoredAs
from emporium.platform.crud.workflows import CrudWorkflows

# The read model shows a hint of the secret, never the secret (it is shown once, by `endpoint_created`).
SECRET_HINT = StoredAs(("secret",), str, dump=lambda _: {}, load=lambda row: secret_hint(row["secret"]))


def endpoint_created(row: Row) -> WebhookEndpointCreatedOut:
    return WebhookEndpointCreatedOut(**webhook_endpoint_resource.from_row(row).model_dump(), secret=row["secret"])


def endpoint_rotated(row: Row) -> WebhookEndpointRotatedOut:
    return WebhookEndpointRotatedOut(
        **endpoint_created(row).model_dump(), previous_secret_expires_at=row["previous_secret_expires_at"]
    )


webhook_endpoint_resource = Resource(
    name="webhook_endpoints",
    path="/v1/webhook-endpoints",
    id_prefix="whe",
    table=webhook_endpoint,
    model=WebhookEndpointOut,
    create_schema=WebhookEndpointIn,
    update_schema=WebhookEndpointUpdate,
    permissions=Permissions.read_write(Perm.WEBHOOKS_READ, Perm.WEBHOOKS_WRITE),
    stored_as={"secret_hint": SECRET_HINT},
    filters=[Filter.on("enabled", example="true")],
    rules=ENDPOINT_RULES,
    create_response=endpoint_created,
)
webhook_endpoint_crud = CrudWorkflows(webhook_endpoint_resource)
