"""AWS Lambda entry points: the HTTP API (`http_handler`) and the event consumers (`consumer_handler`).

    Handler: emporium.serverless.http_handler       (API Gateway HTTP API / REST API / ALB events, via Mangum)
    Handler: emporium.serverless.consumer_handler   (SQS batches whose bodies are event envelopes)

A Lambda sandbox runs many invocations in one process. Everything expensive is made once, on the first
invocation (the configuration from the environment, the app, the connection pool, the S3 client), on one
event loop kept for the life of the sandbox, and reused by every later invocation: nothing starts or stops
per invocation. Nothing is opened at import time either, so importing this module is cheap and cannot fail
on a missing setting. In-process background loops (event dispatcher, cron, webhook delivery) are off: on
Lambda they belong to their own functions and schedules.

The consumer reports partial batch failures (`batchItemFailures`, with `ReportBatchItemFailures` enabled on
the event source mapping): a record whose envelope cannot be read, or one of whose subscribers raised, is
returned for SQS to redeliver (and, after maxReceiveCount, to move to the queue's dead-letter queue). Each
subscriber dedupes by event id in its inbox, so a redelivered record does its work once.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

import structlog

from emporium.config import Config
from emporium.platform.events.contracts import Envelope
from emporium.platform.events.observed import run_handler
from emporium.platform.events.subscriptions import Delivery, Subscriptions

# Mangum encodes any type it does not know as text in base64; problem+json is text.
TEXT_MIME_TYPES = [
    "text/",
    "application/json",
    "application/problem+json",
    "application/javascript",
    "application/xml",
    "application/vnd.oai.openapi",
]

_log = structlog.get_logger("emporium.serverless")


def _lambda_config(config: Config) -> Config:
    """The sandbox runs no background loops: Lambda freezes it between invocations."""
    return replace(config, events_dispatch=False, cron_enabled=False, webhooks_deliver=False, migrate_on_start=False)


def _load_config() -> Config:
    from emporium.main import config_from_environment  # the one reader of the environment
    from emporium.platform.telemetry.logging import configure_logging

    config = _lambda_config(config_from_environment())
    configure_logging(config.log_level, config.log_format)
    if not config.database_url:
        raise RuntimeError("DATABASE_URL must be set on Lambda (there is no embedded PostgreSQL there)")
    return config


@dataclass
class _Sandbox:
    """What one Lambda sandbox keeps between invocations."""

    loop: asyncio.AbstractEventLoop
    stack: AsyncExitStack
    invocations: int = 0


def _new_sandbox() -> _Sandbox:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)  # Mangum runs each request on the thread's current loop: this one
    return _Sandbox(loop, AsyncExitStack())


@cache  # once per sandbox: the first invocation opens, every later one reuses
def _open_api() -> tuple[_Sandbox, Callable[[dict[str, Any], Any], dict[str, Any]]]:
    from mangum import Mangum

    from emporium.bootstrap.app import create_app
    from emporium.bootstrap.runtime import open_runtime

    config = _load_config()
    sandbox = _new_sandbox()
    app = create_app(lambda: open_runtime(config, config.database_url or ""), config)
    # The app's lifespan (pool, caches, adapters) is entered once here, not by Mangum per invocation.
    sandbox.loop.run_until_complete(sandbox.stack.enter_async_context(app.router.lifespan_context(app)))
    _log.info("lambda_runtime_opened", kind="http")
    return sandbox, Mangum(app, lifespan="off", text_mime_types=TEXT_MIME_TYPES)


def http_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    sandbox, adapter = _open_api()
    sandbox.invocations += 1
    asyncio.set_event_loop(sandbox.loop)
    return adapter(event, context)


async def _open_consumer_runtime(config: Config, stack: AsyncExitStack) -> Any:
    from emporium.bootstrap.resources import open_module_resources
    from emporium.platform.db.engine import Database, PoolSettings

    db = Database(
        config.database_url or "",
        PoolSettings(size=config.db_pool_size, timeout=config.db_pool_timeout),
        application_name="emporium-lambda-consumer",
    )
    stack.push_async_callback(db.dispose)
    await stack.enter_async_context(open_module_resources(config, db))  # as the worker does: every subscriber runs
    return db


@cache
def _open_consumers() -> tuple[_Sandbox, Any, Subscriptions]:
    from emporium.bootstrap import bus

    config = _load_config()
    sandbox = _new_sandbox()
    db = sandbox.loop.run_until_complete(_open_consumer_runtime(config, sandbox.stack))
    _log.info("lambda_runtime_opened", kind="consumer")
    return sandbox, db, bus.subscriptions()


def _receive_count(record: dict[str, Any]) -> int:
    try:
        return max(1, int(record.get("attributes", {}).get("ApproximateReceiveCount", 1)))
    except (TypeError, ValueError):
        return 1


async def _process(db: Any, subscriptions: Subscriptions, record: dict[str, Any]) -> None:
    envelope = Envelope.from_json(json.loads(record["body"]))
    for subscription in subscriptions.for_event(envelope.key):
        await run_handler(subscription, db, Delivery(envelope, subscription.consumer, _receive_count(record)))


async def _process_batch(db: Any, subscriptions: Subscriptions, records: list[Any]) -> list[dict[str, str]]:
    failures = []
    for index, record in enumerate(records):  # in order: a FIFO queue's group order is kept
        message_id = str(record.get("messageId", index)) if isinstance(record, dict) else str(index)
        try:
            if not isinstance(record, dict):
                raise TypeError("an SQS record is an object")
            await _process(db, subscriptions, record)
        except Exception as error:  # reported for redelivery; the other records of the batch go on
            _log.warning("lambda_record_failed", message_id=message_id, error=f"{type(error).__name__}: {error}")
            failures.append({"itemIdentifier": message_id})
    return failures


def consumer_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    sandbox, db, subscriptions = _open_consumers()
    sandbox.invocations += 1
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        raise ValueError("expected an SQS event: an object with a `Records` list")
    asyncio.set_event_loop(sandbox.loop)
    failures = sandbox.loop.run_until_complete(_process_batch(db, subscriptions, records))
    return {"batchItemFailures": failures}
