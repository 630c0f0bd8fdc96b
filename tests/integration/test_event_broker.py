"""The NATS JetStream bridge, on a real NATS server (TEST_NATS_URL) and real PostgreSQL."""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import nats
import nats.js.errors
import pytest

from emporium.platform.db.engine import Database
from emporium.platform.db.transaction import transaction
from emporium.platform.events.broker import Broker, BrokerSettings, JetStreamForwarder
from emporium.platform.events.dispatcher import Dispatcher, DispatchSettings
from emporium.platform.events.outbox import publish
from emporium.platform.events.subscriptions import Subscriptions
from tests.support.bus import (
    ThingHappened,
    effect_counts,
    nats_url_or_skip,
    pending_count,
    prepare,
    recording,
    wait_for,
)
from tests.support.workers import WorkerProcess

pytestmark = pytest.mark.nats
CONSUMER = "testbus.recorder"


@pytest.fixture
def nats_url() -> str:
    return nats_url_or_skip()


@pytest.fixture
async def broker_settings(nats_url: str) -> AsyncIterator[BrokerSettings]:
    """A stream and subject prefix of this test's own, deleted afterwards (the server may be shared)."""
    token = secrets.token_hex(4)
    settings = BrokerSettings(
        nats_url,
        stream=f"TEST_{token.upper()}",
        subject_prefix=f"test_{token}",
        ack_wait=2,  # a killed worker's message returns fast
    )
    yield settings
    client = await nats.connect(nats_url)
    with contextlib.suppress(nats.js.errors.NotFoundError):  # the stream may never have been created
        await client.jetstream().delete_stream(settings.stream)
    await client.close()


async def _publish(db: Database, count: int, aggregates: int = 5) -> list[str]:
    ids = []
    async with transaction(db) as tx:
        for i in range(count):
            ids.append((await publish(tx, ThingHappened(thing_id=f"thg_nats_{i % aggregates}", n=i))).id)
        await tx.commit()
    return ids


async def test_the_forwarder_publishes_to_versioned_subjects_with_the_event_id_for_dedupe(
    db: Database, pg: asyncpg.Connection, broker_settings: BrokerSettings
) -> None:
    await prepare(pg)
    broker = await Broker.connect(broker_settings)
    dispatcher = Dispatcher(
        db, Subscriptions(), DispatchSettings(poll_interval=0.1), forwarder=JetStreamForwarder(broker)
    )
    try:
        ids = await _publish(db, 10)
        dispatcher.start()

        async def forwarded() -> bool:
            return await pending_count(pg) == 0

        await wait_for(forwarded, 20, "the events to be forwarded")
        await dispatcher.stop()
        # A re-send (a crash between the publish and marking it forwarded) is dropped by JetStream.
        first = await pg.fetchrow("SELECT * FROM platform.outbox WHERE id = $1", ids[0])
        ack = await broker.js.publish(
            f"{broker_settings.subject_prefix}.testbus.thing_happened.v1", b"{}", headers={"Nats-Msg-Id": ids[0]}
        )
        assert ack.duplicate
        info = await broker.js.stream_info(broker_settings.stream)
        assert info.state.messages == 10
        message = await broker.js.get_msg(broker_settings.stream, seq=1)
        assert message.subject == f"{broker_settings.subject_prefix}.testbus.thing_happened.v1"
        assert message.headers is not None and message.headers["Nats-Msg-Id"] == ids[0]
        assert message.data is not None and json.loads(message.data)["payload"] == {"thing_id": "thg_nats_0", "n": 0}
        assert first["delivered_via"] == "broker"
    finally:
        await dispatcher.stop()
        await broker.close()


async def test_with_nats_down_events_wait_in_the_outbox_and_are_forwarded_when_it_is_back(
    db: Database, pg: asyncpg.Connection, broker_settings: BrokerSettings
) -> None:
    await prepare(pg)
    down = await Broker.connect(broker_settings)
    await down.client.close()  # the connection is gone: every publish fails
    dispatcher = Dispatcher(
        db, Subscriptions(), DispatchSettings(poll_interval=0.1), forwarder=JetStreamForwarder(down)
    )
    ids = await _publish(db, 5)
    assert await dispatcher.run_once() == 0  # nothing forwarded: the loop backs off
    rows = await pg.fetch("SELECT delivered_at, claimed_by FROM platform.outbox WHERE id = ANY($1)", ids)
    assert all(r["delivered_at"] is None and r["claimed_by"] is None for r in rows)  # waiting, claims released

    up = await Broker.connect(broker_settings)
    try:
        assert await Dispatcher(db, Subscriptions(), forwarder=JetStreamForwarder(up)).run_once() == 5
        assert await pending_count(pg) == 0
        assert (await up.js.stream_info(broker_settings.stream)).state.messages == 5
    finally:
        await up.close()


async def test_a_broker_worker_process_handles_each_event_once_acking_after_commit_even_when_killed(
    db: Database, pg: asyncpg.Connection, database_url: str, broker_settings: BrokerSettings, tmp_path: Path
) -> None:
    await prepare(pg)
    broker = await Broker.connect(broker_settings)
    forwarder = Dispatcher(
        db, Subscriptions(), DispatchSettings(poll_interval=0.1), forwarder=JetStreamForwarder(broker)
    )
    env = {
        "DATABASE_URL": database_url,
        "SOURCE": "broker",
        "BROKER_URL": broker_settings.url,
        "STREAM": broker_settings.stream,
        "SUBJECT_PREFIX": broker_settings.subject_prefix,
        "ACK_WAIT": str(broker_settings.ack_wait),
    }
    log = tmp_path / "broker-worker.log"
    ids = await _publish(db, 60)
    forwarder.start()
    worker = WorkerProcess(env, log)
    try:

        async def some_handled() -> bool:
            return len(await effect_counts(pg, CONSUMER)) >= 10 or worker.process.poll() is not None

        await wait_for(some_handled, 30, "the broker worker to handle events")
        assert worker.process.poll() is None, worker.output()
        worker.kill()  # unacked messages are redelivered to the next worker; the inbox dedupes

        worker = WorkerProcess(env, log)

        async def all_handled() -> bool:
            return len(await effect_counts(pg, CONSUMER)) == len(ids)

        await wait_for(all_handled, 60, "every event to be handled from the broker")
        assert worker.stop() == 0, worker.output()
    finally:
        worker.stop()
        await forwarder.stop()
    counts = await effect_counts(pg, CONSUMER)
    assert set(counts) == set(ids) and set(counts.values()) == {1}
    consumer = await broker.js.consumer_info(broker_settings.stream, recording().durable_name)
    assert consumer.num_ack_pending == 0 and consumer.num_pending == 0  # every message acked
    await broker.close()
