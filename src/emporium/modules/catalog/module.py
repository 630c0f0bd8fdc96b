"""Catalog's manifest: what the module contributes to the application (see `platform.manifest`)."""

from __future__ import annotations

from emporium.modules.catalog import tables
from emporium.modules.catalog.handlers import router
from emporium.modules.catalog.permissions import GRANTS
from emporium.platform.http.shedding import Priority, RouteClass
from emporium.platform.manifest import Manifest, tables_of

MANIFEST = Manifest(
    name="catalog",
    schema="catalog",
    tables=tables_of(tables),
    routers=(router,),
    permissions=GRANTS,
    # Browsing is shed first under load (GETs only: catalog writes stay normal).
    shedding=(RouteClass("/v1/products", Priority.LOW), RouteClass("/v1/categories", Priority.LOW)),
)
