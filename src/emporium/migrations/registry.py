"""Every module's tables, gathered from the manifests for Alembic's autogenerate and drift checks."""

from __future__ import annotations

from emporium.bootstrap.modules import INSTALLED
from emporium.platform.db.schema import metadata

# The manifests' tables are defined on the shared MetaData (importing the list registered them).
target_metadata = metadata
MODULE_SCHEMAS: tuple[str, ...] = INSTALLED.schemas


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Compare only the schemas our modules own (not `public` or extensions')."""
    if type_ == "schema":
        return name in MODULE_SCHEMAS
    return True
