"""`emporium worker --module notifications --source broker` as a process of its own, fed through NATS JetStream.

Two real `emporium worker` processes: one forwards the outbox to NATS (BROKER_URL set, `--source outbox`),
the other hosts only the notifications subscribers and reads their durable consumers. The test places a
real order through the API and reads what an SMTP server and a webhook receiver, both started here, got.

The real command uses the default stream (`EMPORIUM`, subjects `emporium.>`), so the test deletes that
stream before and after, and holds a file lock meanwhile: two runs on one machine cannot share it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import secrets
import tempfile
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import nats
import nats.js.errors
import pytest

from emporium.modules.notifications import subscribers
from emporium.modules.notifications.domain import message_id, webhook_event_type
from emporium.modules.notifications.providers import Notifiers, NotifierSettings, install, uninstall
from emporium.platform.db.engine import Database
from emporium.platform.events.broker import BrokerSettings
from emporium.platform.http.ssrf import SsrfGuard
from tests.support.bus import nats_url_or_skip, prepare, wait_for
from tests.support.catalog import make_product
from tests.support.identity import bearer, make_tenant
from tests.support.notifications import Inbox, WebhookReceiver, smtp_server
from tests.support.orders import order_body, place
from tests.support.workers import WorkerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.nats]

STREAM = BrokerSettings("nats://unused").stream  # what `emporium worker` uses: no setting changes it
WEBHOOK_EVENT_NAMES = frozenset(cls.event_name for cls in subscribers.WEBHOOK_EVENTS)


async def _consumers_done(url: str) -> dict[str, tuple[int, int]]:
    """(pending, unacked) messages of each notifications durable consumer."""
    client = await nats.connect(url)
    try:
        js = client.jetstream()
        found: dict[str, tuple[int, int]] = {}
        for subscription in subscribers.SUBSCRIPTIONS:
            info = await js.consumer_info(STREAM, subscription.durable_name)
            found[subscription.consumer] = (info.num_pending, info.num_ack_pending)
        return found
    finally:
        await client.close()


async def _delete_stream(url: str) -> None:
    client = await nats.connect(url)
    try:
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await client.jetstream().delete_stream(STREAM)
    finally:
        await client.close()


@pytest.fixture
async def nats_url() -> AsyncIterator[str]:
    """The shared NATS server, with the default stream to this test alone (deleted before and after)."""
    url = nats_url_or_skip()
    with (Path(tempfile.gettempdir()) / f"emporium-test-nats-{STREAM}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another run of this test on this machine waits here
        await _delete_stream(url)  # old messages and durable consumers of earlier runs
        try:
            yield url
        finally:
            await _delete_stream(url)


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with smtp_server() as server:
        yield server


def _emporium_worker(env: dict[str, str], log: Path, *options: str) -> WorkerProcess:
    return WorkerProcess(env, log, args=("-m", "emporium.main", "worker", *options))


async def test_a_notifications_worker_process_sends_the_confirmation_email_and_webhooks_from_nats_once(
    app_client: httpx.AsyncClient,
    db: Database,
    pg: asyncpg.Connection,
    database_url: str,
    nats_url: str,
    smtp: tuple[Inbox, int],
    tmp_path: Path,
) -> None:
    await prepare(pg)  # earlier tests' events are not forwarded
    # Deliveries left pending by other tests are not for this test's webhook worker to send.
    await pg.execute("UPDATE notifications.webhook_delivery SET status = 'dead' WHERE status = 'pending'")
    shop = await make_tenant(db, "Broker shop")
    shirt = await make_product(db, shop, price=1500, on_hand=5, name="Shirt")
    buyer = f"buyer-{secrets.token_hex(4)}@example.com"
    inbox, smtp_port = smtp
    common = {
        "DATABASE_URL": database_url,
        "BROKER_URL": nats_url,
        "MIGRATE_ON_START": "false",  # the session's database is migrated
        "EVENTS_POLL_INTERVAL": "0.1",
    }
    async with WebhookReceiver() as receiver:
        # Registering a loopback URL needs a guard that allows it, in this process (the API's check).
        loopback = Notifiers(NotifierSettings(guard=SsrfGuard.allowing(["127.0.0.1"])))
        install(loopback)
        try:
            created = await app_client.post(
                "/v1/webhook-endpoints",
                headers=bearer(shop.owner_key),
                json={"url": receiver.url, "event_types": ["*"]},
            )
        finally:
            uninstall(loopback)
            await loopback.close()
        assert created.status_code == 201, created.text
        endpoint_id = created.json()["id"]

        notifications = _emporium_worker(
            {
                **common,
                "SMTP_HOST": "127.0.0.1",
                "SMTP_PORT": str(smtp_port),
                "SMTP_STARTTLS": "false",
                "EMAIL_FROM": "Broker Shop <shop@example.com>",
                "WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
            },
            tmp_path / "notifications.log",
            "--module",
            "notifications",
            "--source",
            "broker",
        )
        # Forward only: its webhook delivery worker stays off, so every send below is the other process's.
        forwarder = _emporium_worker({**common, "WEBHOOKS_DELIVER": "false"}, tmp_path / "forwarder.log")
        try:
            body = order_body((str(shirt["sku"]), 2))
            body["customer"]["email"] = buyer
            placed = await place(app_client, shop.storefront_key, body)
            assert placed.status_code == 201, placed.text
            order = placed.json()
            events = await pg.fetch(
                "SELECT id, name FROM platform.outbox WHERE org_id = $1 AND name = ANY($2::text[]) ORDER BY seq",
                shop.org_id,
                sorted(WEBHOOK_EVENT_NAMES),
            )
            [created_event] = [e["id"] for e in events if e["name"] == "orders.order_created"]
            [paid_event] = [e["id"] for e in events if e["name"] == "orders.order_paid"]
            assert len(events) >= 2, events  # the checkout's payment events too

            async def handled() -> bool:
                for process in (notifications, forwarder):
                    assert process.process.poll() is None, process.output()
                deliveries = await pg.fetchval(
                    "SELECT count(*) FROM notifications.webhook_delivery WHERE endpoint_id = $1 AND status = $2",
                    endpoint_id,
                    "succeeded",
                )
                return bool(inbox.to(buyer)) and deliveries == len(events)

            await wait_for(handled, 60, "the notifications process to send the email and the webhooks")
        finally:
            stopped = {"notifications": notifications.stop(), "forwarder": forwarder.stop()}
        assert stopped == {"notifications": 0, "forwarder": 0}, (notifications.output(), forwarder.output())

    # Both processes are gone: what was received now is all there is.
    [email] = inbox.to(buyer)
    assert email["Subject"] == f"Order #{order['number']} confirmed"
    assert email["From"] == "Broker Shop <shop@example.com>"
    by_message = Counter(r.headers["webhook-id"] for r in receiver.requests)
    assert by_message == {message_id(e["id"], endpoint_id): 1 for e in events}  # each event's webhook, once
    types = sorted(json.loads(r.body)["type"] for r in receiver.requests)
    assert types == sorted(webhook_event_type(e["name"]) for e in events)
    order_created = next(json.loads(r.body) for r in receiver.requests if json.loads(r.body)["type"] == "OrderCreated")
    assert order_created["data"]["order_id"] == order["id"]
    assert order_created["data"]["order_number"] == order["number"]

    # The events went through NATS, and the notifications consumers' inboxes recorded them.
    via = await pg.fetch(
        "SELECT delivered_via FROM platform.outbox WHERE id = ANY($1::text[])", [e["id"] for e in events]
    )
    assert {r["delivered_via"] for r in via} == {"broker"}
    consumers = await pg.fetch("SELECT consumer FROM platform.inbox WHERE event_id = $1", created_event)
    assert {r["consumer"] for r in consumers} == {"notifications.webhooks"}  # nothing is confirmed before payment
    consumers = await pg.fetch("SELECT consumer FROM platform.inbox WHERE event_id = $1", paid_event)
    assert {r["consumer"] for r in consumers} == {"notifications.order_confirmation", "notifications.webhooks"}
    messages = await pg.fetch(
        "SELECT consumer, recipient, status FROM notifications.message WHERE event_id = $1", paid_event
    )
    assert [dict(m) for m in messages] == [
        {"consumer": "notifications.order_confirmation", "recipient": buyer, "status": "sent"}
    ]
    assert "broker_consumer_started" in notifications.output()
    # Every message was acked (after its handler's transaction committed): nothing left to redeliver.
    assert set((await _consumers_done(nats_url)).values()) == {(0, 0)}
