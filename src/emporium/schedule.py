"""What the modules declare to the cron: their periodic jobs, built from the configuration.

One place for `serve` (runtime) and `emporium cron` (worker) to get the same
list, so a job added next to its module runs wherever the cron runs.
"""

from __future__ import annotations

from datetime import timedelta

from emporium.config import Config
from emporium.modules.orders import jobs as orders_jobs
from emporium.platform.cron import Job
from emporium.platform.db.engine import Database


def scheduled_jobs(config: Config, db: Database) -> list[Job]:
    return orders_jobs.jobs(
        db,
        unknown_after=timedelta(seconds=config.checkout_recovery_after),
        authorization_ttl=timedelta(seconds=config.payment_authorization_ttl),
        recovery_every=config.checkout_recovery_interval,
    )
