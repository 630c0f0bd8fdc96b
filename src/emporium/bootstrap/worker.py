"""`emporium worker`: event consumers without the HTTP server.

- `--source outbox` (default): the dispatcher alone: claims outbox events and
  runs every module's subscribers (or, with BROKER_URL, forwards them to NATS).
  Every outbox dispatcher must host the same subscribers (an event is done for
  all of them at once), so `--module` is refused here.
- `--source broker`: each hosted subscription reads its durable JetStream
  consumer: the extraction path, where `--module` picks one module's subscribers.

SIGTERM/SIGINT stops at a safe point: handlers in progress finish, unstarted
claims are released, unacked broker messages are redelivered.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Literal

from redis.asyncio import Redis

from emporium.bootstrap.resources import open_module_resources
from emporium.bootstrap.runtime import dispatch_settings_for, open_broker
from emporium.bootstrap.schedule import scheduled_jobs
from emporium.config import Config
from emporium.platform.cron import Scheduler
from emporium.platform.db.engine import Database, PoolSettings
from emporium.platform.events.broker import BrokerConsumer, BrokerSettings, JetStreamForwarder
from emporium.platform.events.dispatcher import Dispatcher
from emporium.platform.events.subscriptions import Subscriptions
from emporium.platform.telemetry.logging import get_logger

Source = Literal["outbox", "broker"]
_log = get_logger("emporium.worker")


class WorkerMisconfigured(ValueError):
    """The command line asks for something the configuration cannot do (exit 2)."""


def check_worker_options(config: Config, source: Source, module: str | None) -> None:
    if source == "broker" and not config.broker_url:
        raise WorkerMisconfigured("--source broker needs BROKER_URL (a nats:// URL)")
    if source == "outbox" and module is not None:
        raise WorkerMisconfigured(
            "--module needs --source broker: outbox dispatchers deliver each event to all subscribers at once"
        )


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)


async def run_worker(
    config: Config,
    database_url: str,
    subscriptions: Subscriptions,
    *,
    source: Source = "outbox",
    stop: asyncio.Event | None = None,
    broker_settings: BrokerSettings | None = None,
) -> None:
    stop = stop or asyncio.Event()
    _stop_on_signals(stop)
    settings = dispatch_settings_for(config)
    db = Database(
        database_url,
        PoolSettings(size=config.db_pool_size, timeout=config.db_pool_timeout),
        application_name="emporium-worker",
    )
    try:
        # Every subscriber may run here: every module's resources (the webhook delivery worker runs here too).
        async with open_module_resources(config, db), open_broker(config, broker_settings) as broker:
            if source == "outbox":
                forwarder = JetStreamForwarder(broker) if broker else None
                dispatcher = Dispatcher(db, subscriptions, settings, forwarder=forwarder)
                dispatcher.start()
                await stop.wait()
                await dispatcher.stop()
            else:
                assert broker is not None
                consumers = [BrokerConsumer(db, broker, s, settings.retry) for s in subscriptions]
                _log.info("broker_worker_started", consumers=[s.consumer for s in subscriptions])
                await asyncio.gather(*(c.run(stop, poll=settings.poll_interval) for c in consumers), stop.wait())
    finally:
        await db.dispose()
    _log.info("worker_stopped")


async def run_scheduler(config: Config, database_url: str, stop: asyncio.Event | None = None) -> None:
    """`emporium cron`: the periodic jobs alone, until SIGTERM/SIGINT (a running tick finishes first)."""
    stop = stop or asyncio.Event()
    _stop_on_signals(stop)
    db = Database(database_url, PoolSettings(size=2, timeout=config.db_pool_timeout), application_name="emporium-cron")
    redis = Redis.from_url(config.redis_url, socket_timeout=0.25) if config.redis_url else None
    try:
        # The jobs run module workflows (recovery settles payments through the configured providers); the
        # webhook delivery loop is the app's and the worker's, not the scheduler's.
        async with open_module_resources(config, db, deliver_webhooks=False):
            scheduler = Scheduler(db, scheduled_jobs(config, db), redis=redis)
            scheduler.start()
            try:
                await stop.wait()
            finally:
                await scheduler.stop()
    finally:
        if redis is not None:
            await redis.aclose()
        await db.dispose()
    _log.info("cron_stopped")


def run_cron(config: Config) -> None:
    from emporium.bootstrap.server import migrate

    asyncio.run(run_scheduler(config, migrate(config)))
