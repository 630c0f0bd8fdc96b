"""What the modules declare to the cron: their periodic jobs, built from the configuration.

One place for `serve` (runtime) and `emporium cron` (worker) to get the same
list, so a job a module's manifest declares runs wherever the cron runs.
"""

from __future__ import annotations

from emporium.bootstrap.modules import INSTALLED
from emporium.config import Config
from emporium.platform.cron import Job
from emporium.platform.db.engine import Database
from emporium.platform.manifest import Modules


def scheduled_jobs(config: Config, db: Database, modules: Modules = INSTALLED) -> list[Job]:
    return modules.jobs(db, config)
