"""The event pipeline's consumer for the bench: `emporium.bootstrap.worker.run_worker` (the code behind
`emporium worker`) hosting one subscriber of `orders.order_created` v1 that records each event once
in its inbox (the same exactly-once path a module's subscriber takes) and does nothing else.

    DATABASE_URL=... python -m bench.event_worker
"""

from __future__ import annotations

import asyncio
import os

from emporium.bootstrap.worker import run_worker
from emporium.config import Config
from emporium.platform.db.engine import Database
from emporium.platform.db.tx import Tx
from emporium.platform.events.subscriptions import Delivery, Subscription, Subscriptions
from emporium.platform.events.workflows import handle_once
from emporium.platform.telemetry.logging import configure_logging

CONSUMER = "bench.order_created"


async def _no_effect(_tx: Tx) -> None:
    return None


async def _handle(db: Database, delivery: Delivery) -> None:
    await handle_once(db, delivery, _no_effect)


def subscription() -> Subscription:
    return Subscription(CONSUMER, _handle, {("orders.order_created", 1): frozenset({"order_id", "total_minor"})})


def main() -> None:
    configure_logging("warning", "json")
    config = Config(database_url=os.environ["DATABASE_URL"], db_pool_size=int(os.environ.get("DB_POOL_SIZE", "6")))
    asyncio.run(run_worker(config, config.database_url or "", Subscriptions([subscription()])))


if __name__ == "__main__":
    main()
