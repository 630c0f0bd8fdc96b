"""Every permission of the product. Each endpoint maps to exactly one of these;
which roles hold which permissions is data in `modules/identity/domain.py`."""

from __future__ import annotations

from enum import StrEnum


class Perm(StrEnum):
    WHOAMI = "auth:whoami"
    ORG_READ = "org:read"
    ORG_WRITE = "org:write"
    USERS_READ = "users:read"
    USERS_WRITE = "users:write"
    API_KEYS_READ = "api_keys:read"
    API_KEYS_WRITE = "api_keys:write"
    AUDIT_READ = "audit:read"
    CATALOG_READ = "catalog:read"
    CATALOG_WRITE = "catalog:write"
    INVENTORY_WRITE = "inventory:write"
    ORDERS_READ = "orders:read"
    ORDERS_WRITE = "orders:write"
    ORDERS_MANAGE = "orders:manage"
    REFUNDS_WRITE = "refunds:write"
    WEBHOOKS_READ = "webhooks:read"
    WEBHOOKS_WRITE = "webhooks:write"
    EVENTS_ADMIN = "events:admin"
    PAYMENTS_READ = "payments:read"
    PAYMENTS_WRITE = "payments:write"
