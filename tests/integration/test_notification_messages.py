"""Emails and texts from real orders: a real SMTP server (aiosmtpd) and a Twilio-compatible stub on loopback.

Orders are placed through `POST /v1/orders`; a dispatcher hosting the notifications subscribers
delivers the outbox; the assertions read what the servers received.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiosmtpd.controller import Controller
from prometheus_client import REGISTRY

from emporium.modules.notifications import subscribers
from emporium.modules.notifications.domain import MessageStatus
from emporium.modules.notifications.providers import Notifiers, NotifierSettings, install, uninstall
from emporium.modules.notifications.providers.email import SmtpSettings
from emporium.modules.notifications.providers.sms import TwilioSettings
from emporium.modules.notifications.workflows import EmailNotice, send_email
from emporium.modules.orders.events import EventLine, OrderPaid, OrderShipped
from emporium.platform.db.engine import Database
from emporium.platform.db.migrate import upgrade
from emporium.platform.events.dispatcher import Dispatcher, DispatchSettings
from emporium.platform.events.outbox import envelope_of
from emporium.platform.events.subscriptions import Delivery, Subscriptions
from emporium.platform.http.ssrf import SsrfGuard
from tests.support.bus import prepare, wait_for
from tests.support.catalog import make_product
from tests.support.identity import bearer, make_tenant
from tests.support.notifications import (
    SMS_FROM,
    TWILIO_SID,
    TWILIO_TOKEN,
    Inbox,
    TwilioStub,
    free_port,
    parts,
    smtp_server,
    twilio_stub,
)
from tests.support.orders import order_body, place
from tests.support.postgres_server import EmbeddedPostgres


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[Inbox, int]]:
    with smtp_server() as server:
        yield server


@pytest.fixture(scope="module")
def twilio() -> Iterator[TwilioStub]:
    with twilio_stub() as stub:
        yield stub


def notifiers_for(smtp: tuple[Inbox, int], twilio: TwilioStub, **settings: Any) -> Notifiers:
    return Notifiers(
        NotifierSettings(
            smtp=SmtpSettings(host="127.0.0.1", port=smtp[1], starttls=False, sender="Shop <shop@example.com>"),
            twilio=TwilioSettings(TWILIO_SID, TWILIO_TOKEN, SMS_FROM, api_base=twilio.base_url),
            guard=SsrfGuard.allowing(["127.0.0.1", "localhost"]),
            **settings,
        )
    )


@pytest.fixture
async def notifiers(smtp: tuple[Inbox, int], twilio: TwilioStub) -> AsyncIterator[Notifiers]:
    installed = notifiers_for(smtp, twilio)
    install(installed)
    yield installed
    uninstall(installed)
    await installed.close()


def message_consumers() -> Subscriptions:
    return Subscriptions(s for s in subscribers.SUBSCRIPTIONS if s.consumer != "notifications.webhooks")


async def dispatch_until(db: Database, condition: Callable[[], Awaitable[bool]], what: str) -> None:
    dispatcher = Dispatcher(db, message_consumers(), DispatchSettings(batch_size=50, concurrency=4))

    async def step() -> bool:
        await dispatcher.run_once()
        return await condition()

    await wait_for(step, 30, what)


async def test_the_confirmation_email_of_a_placed_order_has_its_number_lines_and_total(
    app_client: httpx.AsyncClient,
    db: Database,
    pg: asyncpg.Connection,
    smtp: tuple[Inbox, int],
    notifiers: Notifiers,
) -> None:
    await prepare(pg)
    shop = await make_tenant(db, "Mail shop")
    shirt = await make_product(db, shop, price=1500, on_hand=5, name="Shirt <b>bold</b>")
    mug = await make_product(db, shop, price=799, on_hand=5, name="Mug")
    body = order_body((str(shirt["sku"]), 2), (str(mug["sku"]), 1), shipping=490)
    body["customer"]["email"] = "ada@buyer.example.com"
    placed = await place(app_client, shop.storefront_key, body)
    assert placed.status_code == 201, placed.text
    number = placed.json()["number"]
    inbox = smtp[0]

    async def arrived() -> bool:
        return bool(inbox.to("ada@buyer.example.com"))

    await dispatch_until(db, arrived, "the confirmation email")
    [message] = inbox.to("ada@buyer.example.com")
    assert message["Subject"] == f"Order #{number} confirmed"
    assert message["From"] == "Shop <shop@example.com>"
    text, html = parts(message)
    assert f"#{number}" in text and f"#{number}" in html
    assert f"2 x Shirt <b>bold</b> ({shirt['sku']})  15.00 EUR  = 30.00 EUR" in text
    assert f"1 x Mug ({mug['sku']})  7.99 EUR  = 7.99 EUR" in text
    assert "Total: 42.89 EUR" in text  # 2 x 15.00 + 7.99 + 4.90 shipping
    assert "<strong>Total: 42.89 EUR</strong>" in html
    assert "Shirt &lt;b&gt;bold&lt;/b&gt;" in html and "<b>bold</b>" not in html  # autoescaped
    assert "<td>Mug</td>" in html and "<td>30.00 EUR</td>" in html


async def test_only_a_paid_order_is_confirmed_and_a_cancelled_paid_order_gets_a_cancellation(
    app_client: httpx.AsyncClient,
    db: Database,
    pg: asyncpg.Connection,
    smtp: tuple[Inbox, int],
    notifiers: Notifiers,
) -> None:
    await prepare(pg)
    shop = await make_tenant(db, "Money first")
    await pg.execute("UPDATE identity.org SET capture_mode = 'on_fulfillment' WHERE id = $1", shop.org_id)
    product = await make_product(db, shop, on_hand=10)
    sku = str(product["sku"])

    async def checkout(email: str, token: str) -> httpx.Response:
        body = order_body((sku, 1), token=token)
        body["customer"]["email"] = email
        return await place(app_client, shop.storefront_key, body)

    assert (await checkout("declined@buyer.example.com", "tok_decline")).status_code == 402
    assert (await checkout("failed@buyer.example.com", "tok_error")).status_code == 402
    assert (await checkout("unknown@buyer.example.com", "tok_nonsense")).status_code == 422
    paid = await checkout("paid@buyer.example.com", "tok_success")
    cancelled = await checkout("cancelled@buyer.example.com", "tok_success")
    assert (paid.status_code, cancelled.status_code) == (201, 201)
    cancel = await app_client.post(
        f"/v1/orders/{cancelled.json()['id']}/cancel", headers=bearer(shop.owner_key), json={"reason": "changed mind"}
    )
    assert cancel.status_code == 200, cancel.text
    inbox = smtp[0]

    async def all_delivered() -> bool:
        pending = "SELECT count(*) FROM platform.outbox WHERE org_id = $1 AND delivered_at IS NULL"
        return await pg.fetchval(pending, shop.org_id) == 0

    await dispatch_until(db, all_delivered, "every event of the shop")
    for refused in ("declined", "failed", "unknown"):
        assert inbox.to(f"{refused}@buyer.example.com") == [], refused
    [confirmation] = inbox.to("paid@buyer.example.com")
    assert confirmation["Subject"] == f"Order #{paid.json()['number']} confirmed"
    number = cancelled.json()["number"]
    subjects = sorted(m["Subject"] for m in inbox.to("cancelled@buyer.example.com"))
    assert subjects == sorted([f"Order #{number} confirmed", f"Order #{number} cancelled"])


async def test_a_shipped_order_sends_an_email_and_a_text_through_the_provider(
    app_client: httpx.AsyncClient,
    db: Database,
    pg: asyncpg.Connection,
    smtp: tuple[Inbox, int],
    twilio: TwilioStub,
    notifiers: Notifiers,
) -> None:
    await prepare(pg)
    shop = await make_tenant(db, "Ship shop")
    product = await make_product(db, shop, on_hand=3)
    body = order_body((str(product["sku"]), 1))
    body["customer"].update(email="grace@buyer.example.com", phone="+4915199999999")
    order = (await place(app_client, shop.storefront_key, body)).json()
    shipped = await app_client.post(
        f"/v1/orders/{order['id']}/fulfill",
        headers=bearer(shop.owner_key),
        json={"carrier": "DHL", "tracking_number": "JJD000390007"},
    )
    assert shipped.status_code == 200, shipped.text
    inbox = smtp[0]

    async def both_sent() -> bool:
        return bool(inbox.with_subject(f"Order #{order['number']} has shipped")) and any(
            s["To"] == "+4915199999999" for s in twilio.sent
        )

    await dispatch_until(db, both_sent, "the shipping email and text")
    [mail] = inbox.with_subject(f"Order #{order['number']} has shipped")
    text, _html = parts(mail)
    assert "DHL" in text and "JJD000390007" in text
    [sms] = [s for s in twilio.sent if s["To"] == "+4915199999999"]
    assert sms == {
        "To": "+4915199999999",
        "From": SMS_FROM,
        "Body": f"Your order #{order['number']} has shipped with DHL, tracking JJD000390007.",
    }
    assert twilio.violations == []


def _created(org_id: str, number: int, to: str) -> Delivery:
    event = OrderPaid(
        order_id=f"ord_test{number}",
        order_number=number,
        payment_id=f"pay_test{number}",
        customer_email=to,
        customer_name=None,
        customer_phone=None,
        currency="EUR",
        subtotal_minor=100,
        shipping_minor=0,
        total_minor=100,
        lines=[EventLine(sku="S", name="N", quantity=1, unit_price_minor=100, line_total_minor=100)],
    )
    return Delivery(envelope_of(event, org_id=org_id), "notifications.order_confirmation")


def _shipped(org_id: str, number: int, phone: str) -> Delivery:
    event = OrderShipped(
        order_id=f"ord_ship{number}",
        order_number=number,
        customer_email="x@example.com",
        customer_name=None,
        customer_phone=phone,
        carrier="UPS",
        tracking_number=str(number),
    )
    return Delivery(envelope_of(event, org_id=org_id), "notifications.shipping_sms")


async def _statuses(pg: asyncpg.Connection, org_id: str, channel: str) -> list[str]:
    rows = await pg.fetch(
        "SELECT status FROM notifications.message WHERE org_id = $1 AND channel = $2 ORDER BY created_at, id",
        org_id,
        channel,
    )
    return [r["status"] for r in rows]


async def test_each_org_has_an_hourly_cap_per_channel_beyond_which_sends_are_skipped_and_recorded(
    db: Database, pg: asyncpg.Connection, smtp: tuple[Inbox, int], twilio: TwilioStub
) -> None:
    capped = notifiers_for(smtp, twilio, email_hourly_cap=2, sms_hourly_cap=1)
    install(capped)
    try:
        shop, other = await make_tenant(db, "Capped"), await make_tenant(db, "Uncapped neighbour")
        to = f"cap-{shop.org_id}@example.com"
        emails = [_created(shop.org_id, n, to) for n in range(3)]
        by_handler = subscribers.SUBSCRIPTIONS[0].handler
        await asyncio.gather(*(by_handler(db, d) for d in emails))  # concurrent: the cap still holds exactly
        await by_handler(db, emails[2])  # the skipped one delivered again: still skipped, not retried
        await by_handler(db, _created(other.org_id, 9, to))  # another org has its own count
        assert len(smtp[0].to(to)) == 3
        assert sorted(await _statuses(pg, shop.org_id, "email")) == ["sent", "sent", "skipped"]
        assert await _statuses(pg, other.org_id, "email") == ["sent"]
        skipped = await pg.fetchval(
            "SELECT error FROM notifications.message WHERE org_id = $1 AND status = 'skipped'", shop.org_id
        )
        assert skipped == "over the org's hourly email cap of 2"
        assert (
            await pg.fetchval(
                "SELECT used FROM notifications.send_quota WHERE org_id = $1 AND channel = 'email'", shop.org_id
            )
            == 2
        )

        sms_handler = next(s.handler for s in subscribers.SUBSCRIPTIONS if s.consumer == "notifications.shipping_sms")
        for n in range(2):
            await sms_handler(db, _shipped(shop.org_id, n, f"+49151000{n:05d}"))
        assert await _statuses(pg, shop.org_id, "sms") == ["sent", "skipped"]
    finally:
        uninstall(capped)
        await capped.close()


async def test_an_email_is_sent_once_per_consumer_and_event_however_often_it_is_delivered(
    db: Database, pg: asyncpg.Connection, smtp: tuple[Inbox, int], notifiers: Notifiers
) -> None:
    shop = await make_tenant(db, "Once")
    to = f"once-{shop.org_id}@example.com"
    delivery = _created(shop.org_id, 1, to)
    notice = EmailNotice(to, "order_confirmed", {"order_number": 1, "customer_name": None, "lines": [],
                                               "subtotal": "1", "shipping": "0", "total": "1"})  # fmt: skip
    outcomes = await asyncio.gather(*(send_email(db, delivery, notice) for _ in range(5)), return_exceptions=True)
    await send_email(db, delivery, notice)  # and once more after all of them
    assert len(smtp[0].to(to)) == 1
    sent = [o for o in outcomes if o is MessageStatus.SENT]
    assert len(sent) == 1  # the others found it in flight (the bus retries them) or done
    assert (
        await pg.fetchval(
            "SELECT count(*) FROM platform.inbox WHERE consumer = $1 AND event_id = $2",
            delivery.consumer,
            delivery.event.id,
        )
        == 1
    )


async def test_a_number_the_provider_refuses_is_recorded_as_failed_and_not_retried(
    db: Database, pg: asyncpg.Connection, twilio: TwilioStub, notifiers: Notifiers
) -> None:
    shop = await make_tenant(db, "Bad number")
    sms_handler = next(s.handler for s in subscribers.SUBSCRIPTIONS if s.consumer == "notifications.shipping_sms")
    await sms_handler(db, _shipped(shop.org_id, 1, "+15005550001"))
    row = await pg.fetchrow("SELECT status, error FROM notifications.message WHERE org_id = $1", shop.org_id)
    assert row["status"] == "failed" and "not a valid phone number" in row["error"]


async def test_a_mail_server_outage_fails_the_handler_so_the_bus_retries_and_the_claim_is_free(
    db: Database, pg: asyncpg.Connection, smtp: tuple[Inbox, int], twilio: TwilioStub
) -> None:
    down = Notifiers(NotifierSettings(smtp=SmtpSettings(host="127.0.0.1", port=free_port(), starttls=False, timeout=2)))
    shop = await make_tenant(db, "Outage")
    to = f"outage-{shop.org_id}@example.com"
    delivery = _created(shop.org_id, 1, to)
    handler = subscribers.SUBSCRIPTIONS[0].handler
    install(down)
    try:
        with pytest.raises(OSError):
            await handler(db, delivery)
    finally:
        uninstall(down)
        await down.close()
    up = notifiers_for(smtp, twilio)
    install(up)
    try:
        await handler(db, delivery)  # the retry takes the freed claim at once
    finally:
        uninstall(up)
        await up.close()
    assert len(smtp[0].to(to)) == 1
    assert await _statuses(pg, shop.org_id, "email") == ["sent"]


class MailServerWhoseShopLosesItsDatabase(Inbox):
    """Accepts each message, and as it does, the shop's PostgreSQL stops (immediate: like a crash)."""

    def __init__(self, postgres: EmbeddedPostgres) -> None:
        super().__init__()
        self.postgres = postgres

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.postgres.stop()
        return await super().handle_DATA(server, session, envelope)


async def test_a_database_outage_while_an_email_goes_out_is_waited_out_and_the_email_is_not_sent_twice(
    tmp_path: Path,
) -> None:
    postgres = EmbeddedPostgres(tmp_path / "shop-db")
    await upgrade(postgres.url)
    db = Database(postgres.url)
    mail = MailServerWhoseShopLosesItsDatabase(postgres)
    port = free_port()
    controller = Controller(mail, hostname="127.0.0.1", port=port)
    controller.start()
    notifiers = Notifiers(NotifierSettings(smtp=SmtpSettings(host="127.0.0.1", port=port, starttls=False)))
    try:
        shop = await make_tenant(db, "Outage while sending")
        to = f"settle-{shop.org_id}@example.com"
        delivery = _created(shop.org_id, 1, to)
        notice = EmailNotice(to, "order_confirmed", {"order_number": 1, "customer_name": None, "lines": [],
                                                   "subtotal": "1", "shipping": "0", "total": "1"})  # fmt: skip

        def retries() -> float:
            labels = {"consumer": delivery.consumer}
            return REGISTRY.get_sample_value("notification_settle_retries_total", labels) or 0.0

        before = retries()
        sending = asyncio.create_task(send_email(db, delivery, notice, notifiers=notifiers))

        async def recording_waits_for_the_database() -> bool:
            if sending.done():  # gave up instead of waiting: the bus would send it again
                raise AssertionError(f"the send ended while the database was down: {sending.exception()!r}")
            return retries() > before

        await wait_for(recording_waits_for_the_database, 30, "the sent email's record to wait for the database")
        await asyncio.to_thread(postgres.start)
        outcome = await asyncio.wait_for(sending, 60)
        again = await send_email(db, delivery, notice, notifiers=notifiers)  # the bus delivering it once more

        assert outcome is MessageStatus.SENT
        assert again is None  # recorded as handled: nothing to do
        assert len(mail.to(to)) == 1
        conn = await asyncpg.connect(postgres.url)
        try:
            assert await _statuses(conn, shop.org_id, "email") == ["sent"]
            assert (
                await conn.fetchval(
                    "SELECT count(*) FROM platform.inbox WHERE consumer = $1 AND event_id = $2",
                    delivery.consumer,
                    delivery.event.id,
                )
                == 1
            )
        finally:
            await conn.close()
    finally:
        controller.stop()
        await notifiers.close()
        await db.dispose()
        postgres.shutdown()


def test_the_subscribers_each_have_their_own_consumer_and_the_webhooks_read_every_event() -> None:
    from emporium.bootstrap import bus

    consumers = [s.consumer for s in subscribers.SUBSCRIPTIONS]
    assert len(set(consumers)) == len(consumers) == 6
    webhooks = next(s for s in subscribers.SUBSCRIPTIONS if s.consumer == "notifications.webhooks")
    assert set(webhooks.reads) == {cls.key() for cls in bus.event_types()}
