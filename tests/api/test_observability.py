"""One trace from the HTTP request to the outgoing call an event handler makes; metrics by route
template and by handler; log lines that carry the trace id; no secret in any log line."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace

import asyncpg
import httpx
import pytest
import structlog
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from emporium.bootstrap.app import create_app
from emporium.bootstrap.runtime import open_runtime
from emporium.config import Config
from emporium.modules.notifications import subscribers as notification_subscribers
from emporium.modules.notifications.domain import generate_signing_secret
from emporium.modules.notifications.jobs import DeliverySettings, WebhookDeliveryWorker
from emporium.modules.notifications.providers import Notifiers, NotifierSettings
from emporium.platform.db.engine import Database
from emporium.platform.events.dispatcher import Dispatcher, DispatchSettings
from emporium.platform.events.subscriptions import Subscriptions
from emporium.platform.http.ssrf import SsrfGuard
from emporium.platform.ids import new_id
from emporium.platform.telemetry.logging import configure_logging
from tests.support.bus import drop_leftover_events
from tests.support.catalog import make_product
from tests.support.identity import METRICS_TOKEN, Tenant, bearer, make_tenant
from tests.support.orders import key, order_body, place


@pytest.fixture(scope="session")
def span_exporter(app_client: httpx.AsyncClient) -> InMemorySpanExporter:
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider), "the runtime installs the SDK provider"
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))  # providers cannot drop one: keep it all session
    return exporter


@pytest.fixture
def spans(span_exporter: InMemorySpanExporter) -> Iterator[InMemorySpanExporter]:
    span_exporter.clear()
    yield span_exporter
    span_exporter.clear()


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[dict[str, str]]]]:
    """A loopback HTTP server that records the headers of what it receives."""
    received: list[dict[str, str]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        headers = {}
        for line in head.decode().split("\r\n")[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        if length:
            await reader.readexactly(length)
        received.append(headers)
        writer.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/hook", received
    server.close()
    await server.wait_closed()


def _by_id(spans: tuple[ReadableSpan, ...]) -> dict[int, ReadableSpan]:
    return {s.context.span_id: s for s in spans}


def _ancestors(span: ReadableSpan, index: dict[int, ReadableSpan]) -> list[str]:
    names = []
    while span.parent is not None and span.parent.span_id in index:
        span = index[span.parent.span_id]
        names.append(span.name)
    return names


def _request_trace(finished: tuple[ReadableSpan, ...], route: str) -> list[ReadableSpan]:
    server = next(s for s in finished if s.kind == trace.SpanKind.SERVER and s.attributes.get("http.route") == route)
    return [s for s in finished if s.context.trace_id == server.context.trace_id]


async def test_sql_statements_get_spans_only_when_trace_sql_asks_for_them(
    app_client: httpx.AsyncClient,
    db: Database,
    tenant: Tenant,
    spans: InMemorySpanExporter,
    config: Config,
    database_url: str,
) -> None:
    product = await make_product(db, tenant, on_hand=2)
    body = order_body((str(product["sku"]), 1))
    assert (await place(app_client, tenant.storefront_key, body)).status_code == 201
    default = _request_trace(spans.get_finished_spans(), "/v1/orders")
    assert "orders.workflow.place_order" in {s.name for s in default}  # workflows and services are traced ...
    assert not [s for s in default if s.attributes.get("db.system")]  # ... SQL statements are not

    spans.clear()
    traced_sql = create_app(lambda: open_runtime(replace(config, trace_sql=True), database_url), config)
    async with traced_sql.router.lifespan_context(traced_sql):
        transport = httpx.ASGITransport(app=traced_sql, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://emporium.test") as client:
            assert (await place(client, tenant.storefront_key, body)).status_code == 201
    finished = spans.get_finished_spans()
    in_trace = _request_trace(finished, "/v1/orders")
    sql = [s for s in in_trace if s.attributes.get("db.system") == "postgresql"]
    assert sql, "TRACE_SQL=true: a span per statement"
    index = _by_id(finished)
    parents = [(_ancestors(s, index) or ["(none)"])[0] for s in sql]
    # Each under the service or workflow that ran it (a workflow sends its transaction's deferred writes).
    assert all(".service." in name or ".workflow." in name for name in parents), parents
    assert "orders.workflow.place_order" in parents and any(".service." in name for name in parents), parents


async def test_one_trace_from_post_orders_to_the_webhook_delivery(
    app_client: httpx.AsyncClient,
    db: Database,
    pg: asyncpg.Connection,
    spans: InMemorySpanExporter,
    receiver: tuple[str, list[dict[str, str]]],
) -> None:
    url, received = receiver
    shop = await make_tenant(db, "Traced")
    product = await make_product(db, shop, on_hand=3)
    # A loopback receiver: registered straight in the table (the shared app rightly refuses loopback URLs).
    await pg.execute(
        "INSERT INTO notifications.webhook_endpoint (id, org_id, url, event_types, secret) VALUES ($1, $2, $3, $4, $5)",
        new_id("whe"), shop.org_id, url, ["OrderCreated"], generate_signing_secret(),
    )  # fmt: skip
    # The dispatcher and the delivery worker below would otherwise work through every earlier test's events
    # and webhook deliveries (thousands, many to receivers long gone) before reaching this one.
    await drop_leftover_events(pg)
    await pg.execute("UPDATE notifications.webhook_delivery SET next_attempt_at = 'infinity' WHERE status = 'pending'")
    spans.clear()
    response = await place(app_client, shop.storefront_key, order_body((str(product["sku"]), 1)))
    assert response.status_code == 201

    # The real notifications subscriber fans the event out; the real delivery worker sends it.
    webhooks = Subscriptions(
        s for s in notification_subscribers.SUBSCRIPTIONS if s.consumer == "notifications.webhooks"
    )
    dispatcher = Dispatcher(db, webhooks, DispatchSettings(batch_size=500, concurrency=4))
    notifiers = Notifiers(NotifierSettings(guard=SsrfGuard.allowing(("127.0.0.1",)), webhook_timeout=5))
    worker = WebhookDeliveryWorker(db, DeliverySettings(batch_size=500, concurrency=4, timeout=5), notifiers=notifiers)
    try:
        for _ in range(100):
            await dispatcher.run_once()
            await worker.run_once()
            if received:
                break
    finally:
        await notifiers.close()
    assert received, "the webhook never arrived"

    finished = spans.get_finished_spans()
    index = _by_id(finished)
    server = next(
        s for s in finished if s.kind == trace.SpanKind.SERVER and s.attributes.get("http.route") == "/v1/orders"
    )
    trace_id = server.context.trace_id
    in_trace = [s for s in finished if s.context.trace_id == trace_id]
    names = {s.name for s in in_trace}
    for expected in (
        "checkout.orchestrator.place_order",
        "orders.workflow.place_order",
        "catalog.api.reserve_stock",
        "payments.workflow.charge",
        "orders.workflow.settle_checkout",
        "orders.order_created process notifications.webhooks",
        "notifications.workflow.fan_out_webhooks",
        "notifications.webhook.send",
    ):
        assert expected in names, (expected, sorted(names))
    assert _ancestors(next(s for s in in_trace if s.name == "orders.workflow.place_order"), index)[:1] == [
        "checkout.orchestrator.place_order"
    ]
    assert not [s for s in in_trace if s.attributes.get("db.system")], "a span per SQL statement only with TRACE_SQL"
    handler = next(s for s in in_trace if s.name == "orders.order_created process notifications.webhooks")
    assert "orders.workflow.place_order" in _ancestors(handler, index)  # continued from the outbox row
    send = next(s for s in in_trace if s.name == "notifications.webhook.send")
    assert handler.name in _ancestors(send, index)  # continued from the delivery row
    assert received[0]["traceparent"].split("-")[1] == format(trace_id, "032x")
    assert received[0]["webhook-id"].startswith("msg_")


async def test_metrics_by_route_template_and_by_handler(
    app_client: httpx.AsyncClient, tenant: Tenant, db: Database
) -> None:
    product = await make_product(db, tenant, on_hand=1)
    for _ in range(3):
        await app_client.get(f"/v1/products/{product['id']}", headers=bearer(tenant.owner_key))
    await app_client.get("/v1/products/prd_missing", headers=bearer(tenant.owner_key))
    text = (await app_client.get("/metrics", headers=bearer(METRICS_TOKEN))).text
    assert (
        'http_request_duration_seconds_bucket{le="0.005",method="GET",route="/v1/products/{id}",status_class="2xx"}'
        in text
    )
    assert 'http_requests_total{method="GET",route="/v1/products/{id}",status_class="4xx"}' in text
    assert str(product["id"]) not in text and "prd_missing" not in text
    assert "outbox_backlog_events" in text
    assert "db_pool_connections_in_use" in text
    assert 'cache_lookups_total{cache="products",outcome="hit"}' in text  # the 2nd and 3rd reads
    assert 'payment_outcomes_total{operation="authorize_capture",outcome="captured",provider="sandbox"}' in text
    assert 'event_handler_runs_total{consumer="notifications.webhooks"' in text  # from the trace test's handler


async def test_the_log_of_a_failing_request_carries_its_trace_id(
    app_client: httpx.AsyncClient, tenant: Tenant, spans: InMemorySpanExporter
) -> None:
    stream = io.StringIO()
    configure_logging("info", "json")
    handler = logging.getLogger().handlers[0]
    handler.setStream(stream)  # type: ignore[attr-defined]
    try:
        response = await app_client.post(
            "/v1/orders", headers={**bearer(tenant.storefront_key), "Idempotency-Key": key()},
            json=order_body(("NO-SUCH-SKU", 1)),
        )  # fmt: skip
    finally:
        logging.getLogger().handlers.clear()
    assert response.status_code == 422
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    access = next(line for line in lines if line.get("event") == "request" and line.get("route") == "/v1/orders")
    server = next(
        s
        for s in spans.get_finished_spans()
        if s.kind == trace.SpanKind.SERVER and s.attributes.get("http.route") == "/v1/orders"
    )
    assert access["trace_id"] == format(server.context.trace_id, "032x")
    assert access["status"] == 422


async def test_no_secret_reaches_the_log(app_client: httpx.AsyncClient, tenant: Tenant) -> None:
    stream = io.StringIO()
    configure_logging("debug", "json")
    logging.getLogger().handlers[0].setStream(stream)  # type: ignore[attr-defined]
    secrets: list[str] = [tenant.owner_key]
    try:
        owner = bearer(tenant.owner_key)
        created = await app_client.post("/v1/api-keys", headers=owner, json={"name": "leak?", "role": "viewer"})
        secrets.append(created.json()["secret"])
        endpoint = await app_client.post(
            "/v1/webhook-endpoints", headers=owner, json={"url": "https://hooks.example.com/x", "event_types": ["*"]}
        )
        secrets.append(endpoint.json()["secret"])
        await app_client.get("/v1/auth/whoami", headers=bearer(secrets[1]))
        await app_client.get("/v1/auth/whoami", headers=bearer(secrets[1][:-1] + "x"))  # a refused key
        structlog.stdlib.get_logger("emporium.test").info("card", note="paid with 4242424242424242 and " + secrets[0])
    finally:
        logging.getLogger().handlers.clear()
    captured = stream.getvalue()
    assert captured, "nothing was logged"
    for secret in secrets:
        assert secret not in captured
        assert secret[12:] not in captured
    assert "4242424242424242" not in captured
    assert "paid with 4242" in captured  # first four and last four digits stay, for support
