"""The NATS JetStream bridge: the extraction path of the bus.

- `JetStreamForwarder`: the dispatcher, when a broker is configured, publishes
  each outbox event to `emporium.<module>.<event>.v<N>` with `Nats-Msg-Id` =
  event id (JetStream drops a re-send within its duplicate window), then marks
  it forwarded. NATS down -> the publish fails, the claim is released, and the
  event waits in the outbox until the broker is back.
- `BrokerConsumer`: runs one subscription from its durable pull consumer. The
  subscriber code is the same as in-process; the message is acked only after
  the handler returned, i.e. after its transaction (with the inbox row)
  committed, so a crash before the ack redelivers and the inbox dedupes.
  `max_ack_pending = 1` keeps the consumer's order; failures are nak'ed with
  the retry policy's delay and dead-lettered after the last attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass

import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StreamConfig
from nats.js.errors import NotFoundError

from emporium.platform.db.engine import Database
from emporium.platform.events import workflows
from emporium.platform.events.contracts import SUBJECT_PREFIX, Envelope, subject_of
from emporium.platform.events.dispatcher import error_text
from emporium.platform.events.observed import run_handler
from emporium.platform.events.retry import RetryPolicy
from emporium.platform.events.subscriptions import Delivery, Subscription
from emporium.platform.telemetry.logging import get_logger

_log = get_logger("emporium.events.broker")


@dataclass(frozen=True, slots=True)
class BrokerSettings:
    url: str
    stream: str = "EMPORIUM"
    subject_prefix: str = SUBJECT_PREFIX
    duplicate_window: float = 120.0  # seconds in which a re-sent event id is dropped
    ack_wait: float = 30.0  # a consumer that dies holding a message gets it redelivered after this
    publish_timeout: float = 5.0


class Broker:
    """One NATS connection with JetStream, and the stream that holds every event subject."""

    def __init__(self, settings: BrokerSettings, client: NatsClient) -> None:
        self.settings = settings
        self.client = client
        self.js: JetStreamContext = client.jetstream()

    @classmethod
    async def connect(cls, settings: BrokerSettings) -> Broker:
        client = await nats.connect(
            settings.url.split(","), name="emporium", connect_timeout=5, max_reconnect_attempts=-1
        )
        broker = cls(settings, client)
        await broker.ensure_stream()
        return broker

    async def ensure_stream(self) -> None:
        try:
            await self.js.stream_info(self.settings.stream)
        except NotFoundError:
            await self.js.add_stream(
                StreamConfig(
                    name=self.settings.stream,
                    subjects=[f"{self.settings.subject_prefix}.>"],
                    duplicate_window=self.settings.duplicate_window,
                )
            )

    def subject(self, name: str, version: int) -> str:
        return subject_of(name, version, self.settings.subject_prefix)

    async def close(self) -> None:
        # Not drain(): unacked messages are simply redelivered, and a drain can wait on idle pull requests.
        if not self.client.is_closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.client.close(), 5)


class JetStreamForwarder:
    def __init__(self, broker: Broker) -> None:
        self.broker = broker

    async def forward(self, event: Envelope) -> None:
        await self.broker.js.publish(
            self.broker.subject(event.name, event.version),
            json.dumps(event.to_json(), separators=(",", ":")).encode(),
            timeout=self.broker.settings.publish_timeout,
            headers={"Nats-Msg-Id": event.id},
        )


class BrokerConsumer:
    def __init__(self, db: Database, broker: Broker, subscription: Subscription, retry: RetryPolicy) -> None:
        self.db = db
        self.broker = broker
        self.subscription = subscription
        self.retry = retry

    async def _subscribe(self) -> JetStreamContext.PullSubscription:
        durable = self.subscription.durable_name
        subjects = sorted(self.broker.subject(name, version) for name, version in self.subscription.reads)
        config = ConsumerConfig(
            durable_name=durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.broker.settings.ack_wait,
            max_ack_pending=1,
            # One subject: a filter every server version honours. Several: `filter_subjects` needs NATS 2.10
            # (older servers ignore it and send everything), so `handle` also skips what the subscriber
            # does not read.
            filter_subject=subjects[0] if len(subjects) == 1 else None,
            filter_subjects=subjects if len(subjects) > 1 else None,
        )
        await self.broker.js.add_consumer(self.broker.settings.stream, config)
        return await self.broker.js.pull_subscribe_bind(durable=durable, stream=self.broker.settings.stream)

    async def run(self, stopping: asyncio.Event, poll: float = 1.0) -> None:
        subscription = await self._subscribe()
        _log.info("broker_consumer_started", consumer=self.subscription.consumer)
        while not stopping.is_set():
            try:
                for message in await subscription.fetch(batch=1, timeout=poll):
                    await self.handle(message)
            except (TimeoutError, NatsTimeoutError):
                continue
            except (NatsError, OSError) as error:
                # The broker is away (the client reconnects by itself). A message whose ack was lost is
                # redelivered after `ack_wait` and the inbox makes its second run a no-op.
                _log.warning("broker_unavailable", consumer=self.subscription.consumer, error=error_text(error))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), timeout=poll)
        _log.info("broker_consumer_stopped", consumer=self.subscription.consumer)

    async def handle(self, message: Msg) -> None:
        event = Envelope.from_json(json.loads(message.data))
        if (event.name, event.version) not in self.subscription.reads:
            await message.ack_sync()  # another subscriber's event, sent by a server without multi-subject filters
            return
        attempt = message.metadata.num_delivered or 1
        delivery = Delivery(event, self.subscription.consumer, attempt)
        try:
            await run_handler(self.subscription, self.db, delivery)
        except Exception as error:
            if self.retry.exhausted(attempt):
                await workflows.dead_letter_event(self.db, event, delivery.consumer, error_text(error), attempt)
                await message.ack_sync()
                _log.error("event_dead_lettered", consumer=delivery.consumer, event_id=event.id, attempt=attempt)
            else:
                await message.nak(delay=self.retry.delay_after(attempt))
                _log.warning(
                    "event_handler_failed",
                    consumer=delivery.consumer,
                    event_id=event.id,
                    attempt=attempt,
                    error=error_text(error),
                )
            return
        await message.ack_sync()  # only now: the handler's transaction (and its inbox row) has committed
