"""Every module's tables, gathered for Alembic's autogenerate and drift checks."""

from __future__ import annotations

# Importing a module's tables registers them on the shared MetaData.
# (Add each new module's `tables` here.)
import emporium.modules.catalog.tables
import emporium.modules.identity.tables
import emporium.modules.notifications.tables
import emporium.modules.orders.tables
import emporium.modules.payments.tables
import emporium.platform.audit.tables
import emporium.platform.cron_runs
import emporium.platform.events.tables
import emporium.platform.idempotency.tables  # noqa: F401
from emporium.platform.db.schema import MODULE_SCHEMAS, metadata

target_metadata = metadata


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Compare only the schemas our modules own (not `public` or extensions')."""
    if type_ == "schema":
        return name in MODULE_SCHEMAS
    return True
