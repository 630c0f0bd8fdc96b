"""A real worker process for the end-to-end bus tests: `emporium.worker.run_worker` (the code behind
`emporium worker`) hosting the test-only recording subscriber, which no module declares.

    DATABASE_URL=... [SOURCE=broker BROKER_URL=... STREAM=... SUBJECT_PREFIX=...] python -m tests.support.bus_worker
"""

from __future__ import annotations

import asyncio
import os

from emporium.config import Config
from emporium.platform.events.broker import BrokerSettings
from emporium.platform.events.subscriptions import Subscriptions
from emporium.platform.telemetry.logging import configure_logging
from emporium.worker import run_worker
from tests.support.bus import recording


def main() -> None:
    configure_logging("info", "json")
    broker_url = os.environ.get("BROKER_URL") or None
    config = Config(
        database_url=os.environ["DATABASE_URL"],
        db_pool_size=6,
        events_batch_size=20,
        events_concurrency=4,
        events_poll_interval=0.1,
        events_lease=1,  # a killed worker's claims are taken over quickly
        broker_url=broker_url,
    )
    settings = None
    if broker_url:
        settings = BrokerSettings(
            broker_url,
            stream=os.environ["STREAM"],
            subject_prefix=os.environ["SUBJECT_PREFIX"],
            ack_wait=float(os.environ.get("ACK_WAIT", "30")),
        )
    source = "broker" if os.environ.get("SOURCE") == "broker" else "outbox"
    asyncio.run(
        run_worker(
            config,
            config.database_url or "",
            Subscriptions([recording()]),
            source=source,
            broker_settings=settings,
        )
    )


if __name__ == "__main__":
    main()
