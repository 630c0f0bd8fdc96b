"""The hand-written reference checkout (issue 14, item 9): what `POST /v1/orders` costs written by hand.

The same durable rows as Emporium's immediate-capture checkout, with the project's own request and
response models (`PlaceOrderIn`, `OrderOut`), FastAPI and asyncpg, and nothing else:

1. one statement (its own transaction): claim the idempotency key, price the lines, reserve stock
   (conditional UPDATE), insert the order, its lines, the pending payment and the outbox event;
2. the provider call: the sandbox provider's ledger, authorize-and-capture in one statement;
3. one statement: payment captured, order paid (both conditional), two outbox events and the stored
   idempotent answer.

Each writing statement NOTIFYs the dispatchers' channel once. Left out on purpose, because they are
not the durable writes being compared: authentication (the API key is taken as given; Emporium
caches principals, so it costs no round trip there either), replay of a stored answer, tracing,
logging, metrics and load shedding. Served by Granian exactly as `emporium serve` is.

    REFERENCE_DATABASE_URL=postgresql://... REFERENCE_ORG_ID=org_... granian --interface asgi bench.reference.app:app
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
from fastapi import FastAPI, Header, Request, Response
from fastapi.responses import JSONResponse

from emporium.modules.orders.domain import CaptureMode, OrderStatus
from emporium.modules.orders.schemas import LineOut, MoneyOut, OrderOut, PlaceOrderIn

CHANNEL = "emporium_outbox"
RESERVATION_MINUTES = 15

# Statement 1. Data-modifying CTEs all run, in one snapshot, in one implicit transaction. A line that
# cannot be priced or reserved leaves `ready` false, which makes reservation_expires_at NULL: the
# NOT NULL constraint then fails the whole statement, so nothing (key, stock, order) stays behind.
PLACE = """
WITH claim AS (
    INSERT INTO platform.idempotency_key (org_id, key, fingerprint, status, expires_at)
    VALUES ($1::text, $2::text, $3::text, 'in_flight', now() + interval '24 hours')
    ON CONFLICT DO NOTHING
    RETURNING key
), wanted AS (
    SELECT w.sku, w.quantity, w.line_no::int AS line_no
    FROM unnest($4::text[], $5::int[]) WITH ORDINALITY AS w(sku, quantity, line_no)
), priced AS (
    SELECT w.line_no, p.id AS product_id, p.sku, p.name, p.price_amount, w.quantity
    FROM wanted w
    JOIN catalog.product p ON p.org_id = $1::text AND p.sku = w.sku AND p.deleted_at IS NULL AND p.active
        AND p.price_currency = $6::text
    WHERE EXISTS (SELECT 1 FROM claim)
), reserved AS (
    UPDATE catalog.inventory i
    SET reserved = i.reserved + p.quantity, version = i.version + 1, updated_at = now()
    FROM priced p
    WHERE i.product_id = p.product_id AND i.org_id = $1 AND i.on_hand - i.reserved >= p.quantity
    RETURNING i.product_id
), ready AS (
    SELECT (SELECT count(*) FROM reserved) = cardinality($4::text[])
       AND (SELECT count(*) FROM priced) = cardinality($4::text[]) AS ok,
       (SELECT coalesce(sum(price_amount * quantity), 0)::bigint FROM priced) AS subtotal
), placed AS (
    INSERT INTO orders."order" (id, org_id, status, capture_mode, currency, subtotal_amount, shipping_amount,
        total_amount, customer_email, customer_name, customer_phone, shipping_address, metadata,
        reservation_expires_at)
    SELECT $7::text, $1::text, 'pending_payment', 'immediate', $6::text, r.subtotal, $8::bigint,
        r.subtotal + $8::bigint, $9::text, $10::text, $11::text, $12::jsonb, $13::jsonb,
        CASE WHEN r.ok THEN now() + make_interval(mins => $14::int) END
    FROM ready r
    WHERE EXISTS (SELECT 1 FROM claim)
    RETURNING id, number, subtotal_amount, total_amount, created_at, updated_at
), lines AS (
    INSERT INTO orders.order_line (order_id, line_no, product_id, sku, name, unit_price_amount, quantity,
        line_total_amount)
    SELECT o.id, p.line_no, p.product_id, p.sku, p.name, p.price_amount, p.quantity, p.price_amount * p.quantity
    FROM placed o, priced p
), payment AS (
    INSERT INTO payments.payment (id, org_id, order_id, provider, status, currency, amount, card_token)
    SELECT $15::text, $1::text, o.id, $16::text, 'pending', $6::text, o.total_amount, $17::text FROM placed o
), event AS (
    INSERT INTO platform.outbox (id, name, version, aggregate_type, aggregate_id, org_id, payload,
        trace_context, occurred_at)
    SELECT $18::text, 'bench.reference_order_created', 1, 'order', o.id, $1::text,
        jsonb_build_object('order_id', o.id, 'total_minor', o.total_amount, 'currency', $6::text), '{}'::jsonb, now()
    FROM placed o
), wake AS (
    SELECT pg_notify($19::text, '') FROM placed
)
SELECT o.id, o.number, o.subtotal_amount, o.total_amount, o.created_at, o.updated_at,
    (SELECT coalesce(json_agg(json_build_object(
        'line_no', p.line_no, 'product_id', p.product_id, 'sku', p.sku, 'name', p.name,
        'price', p.price_amount, 'quantity', p.quantity) ORDER BY p.line_no), '[]') FROM priced p) AS lines,
    (SELECT count(*) FROM wake) AS woke
FROM placed o
"""

# The provider call: the sandbox's ledger, authorize and capture as one operation (one statement).
CHARGE = """
INSERT INTO payments.sandbox_ledger (id, operation, idempotency_key, charge_id, outcome, currency, amount,
    card_token)
VALUES ($1::text, 'authorize', 'emporium:' || $3::text || ':authorize', $4::text, 'authorized', $5::text, $6::bigint,
        $7::text),
       ($2::text, 'capture', 'emporium:' || $3::text || ':capture', $4::text, 'captured', $5::text, $6::bigint, NULL)
ON CONFLICT (operation, idempotency_key) DO NOTHING
"""

# Statement 2: everything conditional, so a retry (or a recovery job) cannot apply it twice.
SETTLE = """
WITH captured AS (
    UPDATE payments.payment
    SET status = 'captured', authorized_amount = amount, captured_amount = amount, provider_ref = $3::text,
        authorized_at = now(), updated_at = now()
    WHERE id = $2::text AND status = 'pending'
    RETURNING id, amount
), paid AS (
    UPDATE orders."order" SET status = 'paid', version = version + 1, updated_at = $8::timestamptz
    WHERE id = $1::text AND status = 'pending_payment' AND EXISTS (SELECT 1 FROM captured)
    RETURNING id, org_id, total_amount
), events AS (
    INSERT INTO platform.outbox (id, name, version, aggregate_type, aggregate_id, org_id, payload,
        trace_context, occurred_at)
    SELECT $4::text, 'bench.reference_payment_captured', 1, 'payment', c.id, p.org_id,
        jsonb_build_object('payment_id', c.id, 'amount', c.amount), '{}'::jsonb, now()
    FROM captured c, paid p
    UNION ALL
    SELECT $5::text, 'bench.reference_order_paid', 1, 'order', p.id, p.org_id,
        jsonb_build_object('order_id', p.id, 'total_minor', p.total_amount), '{}'::jsonb, now()
    FROM paid p
), answered AS (
    UPDATE platform.idempotency_key
    SET status = 'done', resource_id = $1::text, response_status = 201, response_body = $6::bytea,
        response_content_type = 'application/json', completed_at = now()
    WHERE org_id = (SELECT org_id FROM paid) AND key = $7::text AND status = 'in_flight'
), wake AS (
    SELECT pg_notify($9::text, '') FROM paid
)
SELECT count(*) AS paid, (SELECT count(*) FROM wake) AS woke FROM paid
"""


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def problem(status: int, code: str, detail: str) -> JSONResponse:
    body = {"type": f"https://emporium.dev/problems/{code}", "title": code, "status": status, "code": code}
    return JSONResponse({**body, "detail": detail}, status_code=status, media_type="application/problem+json")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(
        os.environ["REFERENCE_DATABASE_URL"], min_size=1, max_size=int(os.environ.get("DB_POOL_SIZE", "10"))
    )
    app.state.org_id = os.environ["REFERENCE_ORG_ID"]
    try:
        yield
    finally:
        await app.state.pool.close()


app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None, lifespan=lifespan)


@app.get("/")
async def ready() -> dict[str, str]:
    return {"status": "ready"}


async def place(pool: asyncpg.Pool, args: tuple[Any, ...]) -> asyncpg.Record | JSONResponse:
    """Statement 1; a problem answer when it refuses."""
    for attempt in range(3):
        try:
            row = await pool.fetchrow(PLACE, *args)
        except asyncpg.NotNullViolationError:
            return problem(409, "out_of_stock", "a line could not be priced or reserved")
        except asyncpg.DeadlockDetectedError:  # the statement is atomic: nothing was written, so try again
            if attempt == 2:
                return problem(503, "overloaded", "retry shortly")
            continue
        if row is None:
            return problem(409, "idempotency_key_in_use", "this key was used before (no replay in the reference)")
        return row
    raise AssertionError("unreachable")


def order_out(row: asyncpg.Record, body: PlaceOrderIn, updated_at: datetime) -> OrderOut:
    currency = body.currency
    lines: list[dict[str, Any]] = json.loads(row["lines"])
    return OrderOut(
        id=row["id"],
        number=row["number"],
        status=OrderStatus.PAID,
        capture_mode=CaptureMode.IMMEDIATE,
        customer={"email": str(body.customer.email), "name": body.customer.name, "phone": body.customer.phone},
        shipping_address=body.shipping_address.model_dump(exclude_none=True),
        metadata=body.metadata,
        lines=[
            LineOut(
                line_no=line["line_no"],
                product_id=line["product_id"],
                sku=line["sku"],
                name=line["name"],
                unit_price=MoneyOut(amount=line["price"], currency=currency),
                quantity=line["quantity"],
                total=MoneyOut(amount=line["price"] * line["quantity"], currency=currency),
            )
            for line in lines
        ],
        subtotal=MoneyOut(amount=row["subtotal_amount"], currency=currency),
        shipping=MoneyOut(amount=body.shipping_amount, currency=currency),
        total=MoneyOut(amount=row["total_amount"], currency=currency),
        refunded=MoneyOut(amount=0, currency=currency),
        carrier=None,
        tracking_number=None,
        cancel_reason=None,
        version=2,
        created_at=row["created_at"],
        updated_at=updated_at,
    )


@app.post("/v1/orders", status_code=201, response_model=OrderOut)
async def place_order(
    body: PlaceOrderIn, request: Request, idempotency_key: str = Header(alias="Idempotency-Key")
) -> Response:
    pool: asyncpg.Pool = request.app.state.pool
    if body.payment.provider != "sandbox":
        return problem(422, "unknown_provider", "only the sandbox provider is wired in the reference")
    lines_in = sorted(body.lines, key=lambda line: line.sku)  # stock rows locked in one order, as Emporium does
    if len({line.sku for line in lines_in}) != len(lines_in):
        return problem(422, "validation_error", "each SKU once per order")
    order_id, payment_id, customer = new_id("ord"), new_id("pay"), body.customer
    placed = await place(
        pool,
        (
            request.app.state.org_id, idempotency_key, hashlib.sha256(await request.body()).hexdigest(),
            [line.sku for line in lines_in], [line.quantity for line in lines_in], body.currency, order_id,
            body.shipping_amount, str(customer.email), customer.name, customer.phone,
            json.dumps(body.shipping_address.model_dump(exclude_none=True)), json.dumps(body.metadata),
            RESERVATION_MINUTES, payment_id, body.payment.provider, body.payment.card_token, new_id("evt"), CHANNEL,
        ),
    )  # fmt: skip
    if isinstance(placed, JSONResponse):
        return placed
    charge_id, amount = new_id("ch"), placed["total_amount"]
    await pool.execute(
        CHARGE, new_id("sbx"), new_id("sbx"), payment_id, charge_id, body.currency, amount, body.payment.card_token
    )
    updated_at = datetime.now(UTC)
    payload = order_out(placed, body, updated_at).model_dump_json().encode()
    settled = await pool.fetchrow(
        SETTLE,
        order_id, payment_id, charge_id, new_id("evt"), new_id("evt"), payload, idempotency_key, updated_at, CHANNEL,
    )  # fmt: skip
    if settled is None or settled["paid"] != 1:
        return problem(409, "conflict", "the order was settled by someone else")
    return Response(payload, status_code=201, media_type="application/json")
