"""The one list of modules. Adding a module: its package (with `module.py`) and one line here.

The order is the order routes appear in the OpenAPI document (migrations
create schemas in their own revisions).
"""

from __future__ import annotations

from emporium.bootstrap.kernel import KERNEL
from emporium.modules.catalog.module import MANIFEST as catalog
from emporium.modules.documents.module import MANIFEST as documents
from emporium.modules.identity.module import MANIFEST as identity
from emporium.modules.notifications.module import MANIFEST as notifications
from emporium.modules.orders.module import MANIFEST as orders
from emporium.modules.oversight.module import MANIFEST as oversight
from emporium.modules.payments.module import MANIFEST as payments
from emporium.modules.reporting.module import MANIFEST as reporting
from emporium.platform.manifest import Manifest, Modules

MODULES: tuple[Manifest, ...] = (
    identity,
    catalog,
    notifications,
    orders,
    payments,
    documents,
    reporting,
    oversight,
    KERNEL,  # the platform's own tables and dead-letter admin routes
)

# Checked once at import: duplicate names, tables outside their schema, consumers named after another module.
INSTALLED = Modules(MODULES)
