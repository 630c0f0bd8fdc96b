"""Documents' manifest: what the module contributes to the application (see `platform.manifest`)."""

from __future__ import annotations

from emporium.modules.documents import tables
from emporium.modules.documents.files import router as signed_files
from emporium.modules.documents.handlers import router
from emporium.modules.documents.permissions import GRANTS
from emporium.modules.documents.subscribers import SUBSCRIPTIONS
from emporium.platform.manifest import Manifest, tables_of

MANIFEST = Manifest(
    name="documents",
    schema="documents",
    tables=tables_of(tables),
    routers=(router, signed_files),
    # The app's own signed, expiring download links (filesystem storage): the signature is the credential.
    public_routes=frozenset({("GET", "/v1/document-files")}),
    subscriptions=tuple(SUBSCRIPTIONS),
    permissions=GRANTS,
)
