"""Oversight's periodic job (edge role): purge the API request log past its retention."""

from __future__ import annotations

from emporium.modules.oversight.workflows import purge_api_requests
from emporium.platform.cron import Job
from emporium.platform.db.engine import Database


def jobs(db: Database, *, retention_days: int) -> list[Job]:
    return [Job("purge_api_logs", 3_600.0, lambda: purge_api_requests(db, retention_days))]
