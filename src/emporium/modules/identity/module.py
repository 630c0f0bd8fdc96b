"""Identity's manifest: what the module contributes to the application (see `platform.manifest`)."""

from __future__ import annotations

from emporium.modules.identity import tables
from emporium.modules.identity.handlers import router
from emporium.modules.identity.permissions import GRANTS
from emporium.platform.manifest import Manifest, tables_of

MANIFEST = Manifest(
    name="identity",
    schema="identity",
    tables=tables_of(tables),
    routers=(router,),
    permissions=GRANTS,
)
