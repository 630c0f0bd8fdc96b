"""Notifications' manifest: what the module contributes to the application (see `platform.manifest`)."""

from __future__ import annotations

from emporium.modules.notifications import tables
from emporium.modules.notifications.handlers import router
from emporium.modules.notifications.metrics import NOTIFICATION_SETTLE_RETRIES
from emporium.modules.notifications.permissions import GRANTS
from emporium.modules.notifications.subscribers import SUBSCRIPTIONS
from emporium.platform.manifest import Manifest, tables_of

MANIFEST = Manifest(
    name="notifications",
    schema="notifications",
    tables=tables_of(tables),
    routers=(router,),
    subscriptions=tuple(SUBSCRIPTIONS),
    permissions=GRANTS,
    metrics=(NOTIFICATION_SETTLE_RETRIES,),
)
