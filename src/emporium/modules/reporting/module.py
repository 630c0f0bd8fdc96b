"""Reporting's manifest: what the module contributes to the application (see `platform.manifest`).

No `schema`/`tables`: its tables live in a store of its own (the main PostgreSQL's `reporting` schema by
default, or REPORTING_DATABASE_URL), migrated by its own Alembic environment (`migrations/`), not by the
application's chain; every entry point opens and installs the store (`bootstrap.resources.open_module_resources`).
"""

from __future__ import annotations

from emporium.modules.reporting.handlers import router
from emporium.modules.reporting.permissions import GRANTS
from emporium.modules.reporting.subscribers import SUBSCRIPTIONS
from emporium.modules.reporting.workflows import REPORTING_LAG
from emporium.platform.http.shedding import Priority, RouteClass
from emporium.platform.manifest import Manifest

MANIFEST = Manifest(
    name="reporting",
    routers=(router,),
    subscriptions=tuple(SUBSCRIPTIONS),
    permissions=GRANTS,
    metrics=(REPORTING_LAG,),
    shedding=(RouteClass("/v1/reports", Priority.LOW),),  # a report can wait; checkout cannot
)
