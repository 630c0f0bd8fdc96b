"""The platform's own manifest: its tables (schema `platform`) and the dead-letter admin routes.

The platform is a module of mechanisms; its one permission is named here,
in the application, so `platform/` itself names none.
"""

from __future__ import annotations

from enum import StrEnum

import emporium.platform.audit.tables
import emporium.platform.cron_runs
import emporium.platform.events.tables
import emporium.platform.idempotency.tables
from emporium.platform.auth.public import PUBLIC_ROUTES
from emporium.platform.events.handlers import dead_letters_router
from emporium.platform.manifest import Manifest, tables_of


class Perm(StrEnum):
    EVENTS_ADMIN = "events:admin"


KERNEL = Manifest(
    name="platform",
    schema="platform",
    tables=tables_of(
        emporium.platform.audit.tables,
        emporium.platform.cron_runs,
        emporium.platform.events.tables,
        emporium.platform.idempotency.tables,
    ),
    routers=(dead_letters_router(Perm.EVENTS_ADMIN),),
    public_routes=PUBLIC_ROUTES,
    permissions={Perm.EVENTS_ADMIN: frozenset({"owner", "admin"})},
)
