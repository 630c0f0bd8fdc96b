"""Orders' manifest: what the module contributes to the application (see `platform.manifest`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from emporium.modules.orders import events, jobs, tables
from emporium.modules.orders.handlers import router
from emporium.modules.orders.permissions import GRANTS
from emporium.modules.orders.settings import OrdersSettings
from emporium.platform.cron import Job
from emporium.platform.db.engine import Database
from emporium.platform.http.shedding import Priority, RouteClass
from emporium.platform.manifest import Jobs, Manifest, events_of, tables_of


def _jobs(db: Database, settings: OrdersSettings) -> Sequence[Job]:
    return jobs.jobs(
        db,
        unknown_after=timedelta(seconds=settings.checkout_recovery_after),
        authorization_ttl=timedelta(seconds=settings.payment_authorization_ttl),
        recovery_every=settings.checkout_recovery_interval,
    )


MANIFEST = Manifest(
    name="orders",
    schema="orders",
    tables=tables_of(tables),
    routers=(router,),
    events=events_of(events),
    jobs=Jobs(OrdersSettings, _jobs),
    settings=(OrdersSettings,),  # the reservation TTL checkout uses
    permissions=GRANTS,
    shedding=(RouteClass("/v1/orders", Priority.CRITICAL),),  # checkout, refunds: money moves here
)
