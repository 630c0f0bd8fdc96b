"""Webhook delivery against loopback receivers: signatures, retries, dead letters, 410, redirects, SSRF, rotation.

The delivery worker is driven directly with a clock the test controls: when
nothing is due, the clock jumps to the next scheduled attempt, so hours of
retry schedule pass in a moment without sleeping.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
import standardwebhooks

from emporium.bootstrap.app import create_app
from emporium.bootstrap.runtime import Runtime, open_runtime
from emporium.config import Config
from emporium.modules.notifications import subscribers
from emporium.modules.notifications.jobs import DeliverySettings, WebhookDeliveryWorker
from emporium.modules.notifications.providers import Notifiers, NotifierSettings, install, uninstall
from emporium.modules.notifications.providers.email import SmtpSettings
from emporium.modules.orders.events import OrderCancelled, OrderPaid
from emporium.platform.db.engine import Database
from emporium.platform.db.transaction import transaction
from emporium.platform.events.dispatcher import Dispatcher, DispatchSettings
from emporium.platform.events.outbox import publish
from emporium.platform.events.subscriptions import Subscriptions
from emporium.platform.http.ssrf import SsrfGuard
from tests.services import scaled
from tests.support.bus import pending_count, prepare, wait_for
from tests.support.identity import Tenant, bearer, make_tenant
from tests.support.notifications import Inbox, Received, WebhookReceiver, smtp_server

LOOPBACK = ["127.0.0.1", "localhost"]
EVENTS = int(os.environ.get("WEBHOOK_TEST_EVENTS") or scaled(500, 5_000))


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[Inbox, int]]:
    with smtp_server() as server:
        yield server


def notifiers_with(smtp: tuple[Inbox, int], guard: SsrfGuard | None = None) -> Notifiers:
    return Notifiers(
        NotifierSettings(
            smtp=SmtpSettings(host="127.0.0.1", port=smtp[1], starttls=False),
            guard=guard or SsrfGuard.allowing(LOOPBACK),
            webhook_timeout=5,
        )
    )


@pytest.fixture
async def notifiers(smtp: tuple[Inbox, int], pg: asyncpg.Connection) -> AsyncIterator[Notifiers]:
    await prepare(pg)
    # Deliveries left by other tests are not this test's business.
    await pg.execute("UPDATE notifications.webhook_delivery SET status = 'dead' WHERE status = 'pending'")
    installed = notifiers_with(smtp)
    install(installed)
    yield installed
    uninstall(installed)
    await installed.close()


async def make_endpoint(
    client: httpx.AsyncClient, shop: Tenant, url: str, event_types: list[str] | None = None
) -> dict[str, Any]:
    created = await client.post(
        "/v1/webhook-endpoints", headers=bearer(shop.owner_key), json={"url": url, "event_types": event_types or ["*"]}
    )
    assert created.status_code == 201, created.text
    return dict(created.json())


async def publish_paid(db: Database, org_id: str, count: int, chunk: int = 500) -> list[str]:
    ids: list[str] = []
    for start in range(0, count, chunk):
        async with transaction(db) as tx:
            for n in range(start, min(count, start + chunk)):
                event = OrderPaid(order_id=f"ord_w{n}_{org_id[-6:]}", order_number=n, payment_id="pay_x",
                                  customer_email="c@example.com", customer_name=None, customer_phone=None,
                                  currency="EUR", subtotal_minor=100 + n, shipping_minor=0, total_minor=100 + n,
                                  lines=[])  # fmt: skip
                ids.append((await publish(tx, event, org_id=org_id)).id)
            await tx.commit()
    return ids


async def fan_out(db: Database, pg: asyncpg.Connection) -> None:
    webhooks = Subscriptions(s for s in subscribers.SUBSCRIPTIONS if s.consumer == "notifications.webhooks")
    dispatcher = Dispatcher(db, webhooks, DispatchSettings(batch_size=500, concurrency=16))

    async def drained() -> bool:
        await dispatcher.run_once()
        return await pending_count(pg) == 0

    await wait_for(drained, 60, "the webhook fan-out")


async def drive(worker: WebhookDeliveryWorker, pg: asyncpg.Connection, clock: Clock, within: float = 60) -> int:
    """Run the worker until no delivery is pending; when none is due, jump the clock so that all of them are."""
    deadline, rounds = time.monotonic() + within, 0
    while time.monotonic() < deadline:
        rounds += 1
        report = await worker.run_once()
        if report.claimed:
            continue
        upcoming = await pg.fetchval(
            "SELECT max(next_attempt_at) FROM notifications.webhook_delivery WHERE status = 'pending'"
        )
        if upcoming is None:
            return rounds
        clock.now = max(clock.now, upcoming)
    raise AssertionError(f"deliveries still pending after {within}s")


def worker_for(db: Database, notifiers: Notifiers, clock: Clock, batch: int = 200) -> WebhookDeliveryWorker:
    return WebhookDeliveryWorker(
        db, DeliverySettings(batch_size=batch, concurrency=8, timeout=5), notifiers=notifiers, clock=clock
    )


@pytest.mark.soak
async def test_thousands_of_events_through_a_receiver_failing_30_percent_lose_nothing_and_apply_once(
    app_client: httpx.AsyncClient, db: Database, pg: asyncpg.Connection, notifiers: Notifiers
) -> None:
    shop = await make_tenant(db, "Flaky receiver")
    rng = random.Random(20261121)
    applied: Counter[str] = Counter()
    stats: Counter[str] = Counter()
    secret: list[str] = []

    def respond(request: Received) -> tuple[int, dict[str, str]]:
        stats["requests"] += 1
        try:
            standardwebhooks.Webhook(secret[0]).verify(request.body, request.headers)
        except standardwebhooks.WebhookVerificationError:
            stats["bad_signature"] += 1
            return 400, {}
        roll, message_id = rng.random(), request.headers["webhook-id"]
        if roll < 0.15:
            stats["failed_before_effect"] += 1
            return 500, {}
        if message_id in applied:
            stats["duplicates"] += 1  # seen before: the receiver dedupes by webhook-id, no second effect
        else:
            applied[message_id] += 1
        if roll < 0.30:
            stats["failed_after_effect"] += 1  # the effect happened but the answer is lost: we will retry
            return 503, {}
        return 200, {}

    async with WebhookReceiver(respond) as receiver:
        endpoint = await make_endpoint(app_client, shop, receiver.url, ["OrderPaid"])
        secret.append(endpoint["secret"])
        event_ids = await publish_paid(db, shop.org_id, EVENTS)
        await fan_out(db, pg)
        assert (
            await pg.fetchval("SELECT count(*) FROM notifications.webhook_delivery WHERE org_id = $1", shop.org_id)
            == EVENTS
        )

        clock = Clock()
        worker = worker_for(db, notifiers, clock, batch=500)
        await drive(worker, pg, clock)
        dead_query = "SELECT id FROM notifications.webhook_delivery WHERE org_id = $1 AND status = 'dead'"
        dead = [r["id"] for r in await pg.fetch(dead_query, shop.org_id)]
        for delivery_id in dead:  # 8 failures in a row (p = 0.3^8): what replay is for
            replayed = await app_client.post(
                f"/v1/webhook-deliveries/{delivery_id}/replay", headers=bearer(shop.owner_key)
            )
            assert replayed.status_code == 200, replayed.text
        await drive(worker, pg, clock)

    by_status = "SELECT status, count(*) FROM notifications.webhook_delivery WHERE org_id = $1 GROUP BY status"
    statuses = dict(await pg.fetch(by_status, shop.org_id))
    assert statuses == {"succeeded": EVENTS}
    expected = {f"msg_{e.removeprefix('evt_')}{endpoint['id'].removeprefix('whe_')}" for e in event_ids}
    assert set(applied) == expected  # 0 lost
    assert set(applied.values()) == {1}  # never a double effect
    assert stats["bad_signature"] == 0  # every request verified with standardwebhooks
    assert stats["duplicates"] > 0 and stats["failed_before_effect"] > 0
    attempts = await pg.fetchval("SELECT count(*) FROM notifications.webhook_attempt WHERE org_id = $1", shop.org_id)
    assert attempts == stats["requests"]  # every attempt is recorded
    print(f"{EVENTS} events, 30% failures: {dict(stats)}, dead then replayed: {len(dead)}, lost: 0")


async def test_a_410_disables_the_endpoint_and_tells_the_org_owners(
    app_client: httpx.AsyncClient, db: Database, pg: asyncpg.Connection, notifiers: Notifiers, smtp: tuple[Inbox, int]
) -> None:
    shop = await make_tenant(db, "Gone")
    async with WebhookReceiver(lambda request: (410, {})) as receiver:
        endpoint = await make_endpoint(app_client, shop, receiver.url)
        await publish_paid(db, shop.org_id, 2)
        await fan_out(db, pg)
        clock = Clock()
        report = await worker_for(db, notifiers, clock).run_once()
    assert report.disabled == (endpoint["id"],)
    got = (await app_client.get(f"/v1/webhook-endpoints/{endpoint['id']}", headers=bearer(shop.owner_key))).json()
    assert got["enabled"] is False and got["disabled_reason"] == "gone"
    deliveries = (await app_client.get("/v1/webhook-deliveries", headers=bearer(shop.owner_key),
                                       params={"endpoint_id": endpoint["id"]})).json()["items"]  # fmt: skip
    assert {d["status"] for d in deliveries} == {"dead"}
    founder = await pg.fetchval(
        "SELECT email FROM identity.user WHERE org_id = $1 AND role = 'owner' ORDER BY created_at LIMIT 1", shop.org_id
    )
    [told] = smtp[0].to(founder)
    assert f"Webhook endpoint {endpoint['id']} was disabled" in str(told["Subject"])
    assert (
        await pg.fetchval(
            "SELECT count(*) FROM platform.audit_log WHERE org_id = $1 AND action = 'webhook_endpoints_disable'",
            shop.org_id,
        )
        == 1
    )
    replay = await app_client.post(
        f"/v1/webhook-deliveries/{deliveries[0]['id']}/replay", headers=bearer(shop.owner_key)
    )
    assert replay.status_code == 409


async def test_an_endpoint_failing_for_5_days_is_disabled(
    app_client: httpx.AsyncClient, db: Database, pg: asyncpg.Connection, notifiers: Notifiers
) -> None:
    shop = await make_tenant(db, "Failing")
    async with WebhookReceiver(lambda request: (500, {})) as receiver:
        endpoint = await make_endpoint(app_client, shop, receiver.url)
        await publish_paid(db, shop.org_id, 1)
        await fan_out(db, pg)
        clock = Clock()
        worker = worker_for(db, notifiers, clock)
        await worker.run_once()
        assert (
            await pg.fetchval("SELECT enabled FROM notifications.webhook_endpoint WHERE id = $1", endpoint["id"])
            is True
        )
        await publish_paid(db, shop.org_id, 1)  # a new event 5 days later fails too
        await fan_out(db, pg)
        clock.now += timedelta(days=5, seconds=1)
        await worker.run_once()
    row = await pg.fetchrow(
        "SELECT enabled, disabled_reason FROM notifications.webhook_endpoint WHERE id = $1", endpoint["id"]
    )
    assert (row["enabled"], row["disabled_reason"]) == (False, "failing")


async def test_retries_follow_the_schedule_then_the_delivery_is_dead_and_a_replay_keeps_its_webhook_id(
    app_client: httpx.AsyncClient, db: Database, pg: asyncpg.Connection, notifiers: Notifiers
) -> None:
    shop = await make_tenant(db, "Schedule")
    answer = {"status": 500}
    async with WebhookReceiver(lambda request: (answer["status"], {})) as receiver:
        endpoint = await make_endpoint(app_client, shop, receiver.url)
        await publish_paid(db, shop.org_id, 1)
        await fan_out(db, pg)
        clock = Clock()
        start = clock.now
        worker = worker_for(db, notifiers, clock)
        await drive(worker, pg, clock)
        owner = bearer(shop.owner_key)
        [dead] = (await app_client.get("/v1/webhook-deliveries", headers=owner, params={"status": "dead"})).json()[
            "items"
        ]
        attempts = (await app_client.get(f"/v1/webhook-deliveries/{dead['id']}/attempts", headers=owner)).json()[
            "items"
        ]
        assert [a["number"] for a in attempts] == list(range(1, 9))
        assert {a["status_code"] for a in attempts} == {500} and not any(a["succeeded"] for a in attempts)
        times = [datetime.fromisoformat(a["attempted_at"]) for a in attempts]
        gaps = [(b - a).total_seconds() for a, b in zip([start, *times], times, strict=False)][1:]
        for gap, planned in zip(gaps, (5, 300, 1800, 7200, 18000, 36000, 36000), strict=True):
            assert planned * 0.9 <= gap <= planned * 1.1  # the schedule, with at most 10 % jitter

        answer["status"] = 204
        replayed = await app_client.post(f"/v1/webhook-deliveries/{dead['id']}/replay", headers=owner)
        assert replayed.status_code == 200 and replayed.json()["status"] == "pending"
        again = await app_client.post(f"/v1/webhook-deliveries/{dead['id']}/replay", headers=owner)
        assert again.status_code == 409  # already pending
        await drive(worker, pg, clock)
    assert {r.headers["webhook-id"] for r in receiver.requests} == {dead["message_id"]}
    assert len(receiver.requests) == 9
    final = (await app_client.get(f"/v1/webhook-deliveries/{dead['id']}/attempts", headers=owner)).json()["items"]
    assert [a["status_code"] for a in final][-1] == 204 and final[-1]["number"] == 9
    other = await make_tenant(db, "Other")
    assert (await app_client.get(f"/v1/webhook-deliveries/{dead['id']}/attempts",
                                 headers=bearer(other.owner_key))).status_code == 404  # fmt: skip
    assert endpoint["id"] == dead["endpoint_id"]


async def test_redirects_are_not_followed(
    app_client: httpx.AsyncClient, db: Database, pg: asyncpg.Connection, notifiers: Notifiers
) -> None:
    shop = await make_tenant(db, "Redirect")
    async with WebhookReceiver() as target, WebhookReceiver(lambda r: (302, {"location": target.url})) as redirecting:
        await make_endpoint(app_client, shop, redirecting.url)
        await publish_paid(db, shop.org_id, 1)
        await fan_out(db, pg)
        await worker_for(db, notifiers, Clock()).run_once()
    assert len(redirecting.requests) == 1 and target.requests == []
    row = await pg.fetchrow(
        "SELECT a.status_code, a.error, d.status FROM notifications.webhook_attempt a "
        "JOIN notifications.webhook_delivery d ON d.id = a.delivery_id WHERE a.org_id = $1",
        shop.org_id,
    )
    assert row["status_code"] == 302 and "not followed" in row["error"] and row["status"] == "pending"


async def test_a_name_that_resolves_to_an_internal_address_at_connect_time_is_refused(
    app_client: httpx.AsyncClient, db: Database, pg: asyncpg.Connection, smtp: tuple[Inbox, int], notifiers: Notifiers
) -> None:
    answers = {"hooks.rebind.test": ["93.184.216.34"]}  # public when the endpoint is registered

    async def resolver(host: str, port: int) -> list[str]:
        return answers[host]

    rebinding = notifiers_with(smtp, SsrfGuard(frozenset(), resolver))
    install(rebinding)
    try:
        shop = await make_tenant(db, "Rebind")
        async with WebhookReceiver() as receiver:
            await make_endpoint(app_client, shop, f"http://hooks.rebind.test:{receiver.port}/hooks")
            answers["hooks.rebind.test"] = ["93.184.216.34", "127.0.0.1"]  # then one record turns internal
            await publish_paid(db, shop.org_id, 1)
            await fan_out(db, pg)
            await worker_for(db, rebinding, Clock()).run_once()
            answers["hooks.rebind.test"] = ["127.0.0.1"]
            clock = Clock()
            clock.now += timedelta(seconds=10)
            await worker_for(db, rebinding, clock).run_once()
        assert receiver.requests == []
        errors_query = "SELECT error FROM notifications.webhook_attempt WHERE org_id = $1 ORDER BY attempted_at"
        errors = [r["error"] for r in await pg.fetch(errors_query, shop.org_id)]
        assert len(errors) == 2 and all("SSRF" in e and "127.0.0.1" in e for e in errors), errors
    finally:
        uninstall(rebinding)
        await rebinding.close()


async def test_during_a_secret_rotation_messages_carry_two_signatures_that_both_verify(
    app_client: httpx.AsyncClient, db: Database, pg: asyncpg.Connection, notifiers: Notifiers
) -> None:
    shop = await make_tenant(db, "Rotation")
    async with WebhookReceiver() as receiver:
        endpoint = await make_endpoint(app_client, shop, receiver.url)
        rotated = await app_client.post(
            f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret", headers=bearer(shop.owner_key)
        )
        assert rotated.status_code == 200, rotated.text
        new = rotated.json()
        assert new["secret"] != endpoint["secret"] and new["version"] == endpoint["version"] + 1
        expires = datetime.fromisoformat(new["previous_secret_expires_at"])
        assert timedelta(hours=23, minutes=59) < expires - datetime.now(UTC) <= timedelta(hours=24)
        await publish_paid(db, shop.org_id, 2)
        await fan_out(db, pg)
        clock = Clock()
        worker = worker_for(db, notifiers, clock, batch=1)
        await worker.run_once()  # inside the overlap
        clock.now = expires + timedelta(seconds=1)
        await worker.run_once()  # after it
    during, after = receiver.requests
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    for secret in (endpoint["secret"], new["secret"]):
        standardwebhooks.Webhook(secret).verify(during.body, during.headers)
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    standardwebhooks.Webhook(new["secret"]).verify(after.body, after.headers)
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(endpoint["secret"]).verify(after.body, after.headers)
    body = standardwebhooks.Webhook(new["secret"]).verify(after.body, after.headers)
    assert body["type"] == "OrderPaid" and body["data"]["currency"] == "EUR"


async def test_endpoints_receive_only_the_types_they_subscribe_to(
    app_client: httpx.AsyncClient, db: Database, pg: asyncpg.Connection, notifiers: Notifiers
) -> None:
    shop = await make_tenant(db, "Types")
    async with WebhookReceiver() as receiver:
        wanted = await make_endpoint(app_client, shop, receiver.url, ["OrderPaid.v2"])
        await make_endpoint(app_client, shop, receiver.url, ["OrderShipped", "PaymentCaptured"])
        disabled = await make_endpoint(app_client, shop, receiver.url, ["*"])
        await app_client.patch(
            f"/v1/webhook-endpoints/{disabled['id']}", headers=bearer(shop.owner_key), json={"enabled": False}
        )
        await publish_paid(db, shop.org_id, 1)
        await fan_out(db, pg)
    rows = await pg.fetch(
        "SELECT endpoint_id, event_type FROM notifications.webhook_delivery WHERE org_id = $1", shop.org_id
    )
    assert [(r["endpoint_id"], r["event_type"]) for r in rows] == [(wanted["id"], "OrderPaid")]


async def test_serve_runs_the_delivery_worker_and_stops_it_with_the_app(
    config: Config, database_url: str, smtp: tuple[Inbox, int]
) -> None:
    serving = replace(config, webhooks_deliver=True, webhook_allowed_hosts=("127.0.0.1",))
    app = create_app(lambda: open_runtime(serving, database_url, subscriptions=Subscriptions()))
    async with app.router.lifespan_context(app):
        runtime = app.state.runtime
        assert isinstance(runtime, Runtime) and runtime.webhook_worker is not None
        worker = runtime.webhook_worker
        await wait_for(lambda: _running(worker), 5, "the worker task")
    assert worker._task is None


async def _running(worker: WebhookDeliveryWorker) -> bool:
    return worker._task is not None and not worker._task.done()


async def test_endpoints_pinned_to_an_earlier_version_receive_it_rendered_as_that_version_once(
    app_client: httpx.AsyncClient, db: Database, pg: asyncpg.Connection, notifiers: Notifiers
) -> None:
    shop = await make_tenant(db, "Pinned")
    async with WebhookReceiver() as receiver:
        subscriptions = {
            "paid_v1": ["OrderPaid.v1"],
            "cancelled_v1": ["OrderCancelled.v1"],
            "everything": ["*"],
            "both": ["OrderPaid", "OrderPaid.v1"],
            "pins": ["OrderPaid.v1", "OrderPaid.v2", "OrderCancelled.v1"],
        }
        endpoints = {
            name: await make_endpoint(app_client, shop, f"{receiver.url}?to={name}", types)
            for name, types in subscriptions.items()
        }
        [paid_id] = await publish_paid(db, shop.org_id, 1)
        async with transaction(db) as tx:
            cancelled = OrderCancelled(order_id="ord_c1", order_number=7, reason="customer asked", was_paid=True,
                                       customer_email="c@example.com", customer_name="Ann", currency="EUR",
                                       total_minor=990)  # fmt: skip
            cancelled_id = (await publish(tx, cancelled, org_id=shop.org_id)).id
            await tx.commit()
        await fan_out(db, pg)
        await drive(worker_for(db, notifiers, Clock()), pg, Clock())
    got: dict[str, list[tuple[str, int, dict[str, Any]]]] = {}
    for request in receiver.requests:
        name = request.path.split("?to=", 1)[1]
        body = standardwebhooks.Webhook(endpoints[name]["secret"]).verify(request.body, request.headers)
        got.setdefault(name, []).append((body["type"], body["version"], body["data"]))
    by_type = {name: {t: (v, data) for t, v, data in items} for name, items in got.items()}
    # One delivery per (endpoint, event), whatever the number of entries that select it.
    assert sorted((n, t) for n, items in got.items() for t, _, _ in items) == sorted(
        (n, t) for n, types in by_type.items() for t in types
    )
    paid_v1 = {"order_id": "ord_w0_" + shop.org_id[-6:], "order_number": 0, "payment_id": "pay_x",
               "currency": "EUR", "total_minor": 100}  # fmt: skip
    assert by_type["paid_v1"] == {"OrderPaid": (1, paid_v1)}
    assert by_type["cancelled_v1"] == {
        "OrderCancelled": (1, {"order_id": "ord_c1", "order_number": 7, "reason": "customer asked"})
    }
    assert by_type["pins"] == {"OrderPaid": (2, by_type["everything"]["OrderPaid"][1]),
                               "OrderCancelled": (1, by_type["cancelled_v1"]["OrderCancelled"][1])}  # fmt: skip
    assert {t: v for t, (v, _) in by_type["everything"].items()} == {"OrderPaid": 2, "OrderCancelled": 2}
    assert by_type["everything"]["OrderCancelled"][1] == cancelled.model_dump()
    assert by_type["everything"]["OrderPaid"][1]["subtotal_minor"] == 100
    assert by_type["both"] == {"OrderPaid": by_type["everything"]["OrderPaid"]}
    rows = await pg.fetch(
        "SELECT endpoint_id, event_id, count(*) AS n FROM notifications.webhook_delivery WHERE org_id = $1"
        " GROUP BY endpoint_id, event_id",
        shop.org_id,
    )
    assert {r["n"] for r in rows} == {1} and len(rows) == 7
    assert {r["event_id"] for r in rows} == {paid_id, cancelled_id}
