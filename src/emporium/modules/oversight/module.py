"""Oversight' manifest: feature flag settings and the API request log (see `platform.manifest`)."""

from __future__ import annotations

from collections.abc import Sequence

from emporium.modules.oversight import jobs, tables
from emporium.modules.oversight.handlers import router
from emporium.modules.oversight.permissions import GRANTS
from emporium.modules.oversight.settings import OversightSettings
from emporium.platform.cron import Job
from emporium.platform.db.engine import Database
from emporium.platform.manifest import Jobs, Manifest, tables_of


def _jobs(db: Database, settings: OversightSettings) -> Sequence[Job]:
    return jobs.jobs(db, retention_days=settings.api_log_retention_days)


MANIFEST = Manifest(
    name="oversight",
    schema="oversight",
    tables=tables_of(tables),
    routers=(router,),
    jobs=Jobs(OversightSettings, _jobs),
    permissions=GRANTS,
)
