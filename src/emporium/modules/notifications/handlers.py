"""Notifications HTTP routes: webhook endpoints, served by the CRUD engine."""

from __future__ import annotations

from emporium.modules.notifications.resources import webhook_endpoint_crud, webhook_endpoint_resource
from emporium.platform.crud.handlers import crud_router

router = crud_router(webhook_endpoint_resource, webhook_endpoint_crud)
