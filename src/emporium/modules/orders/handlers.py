"""Orders HTTP routes. Placing an order and refunding go through the Idempotency-Key layer."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from emporium.modules.orders import workflows
from emporium.modules.orders.permissions import Perm
from emporium.modules.orders.schemas import (
    CancelIn,
    FulfillIn,
    MoneyOut,
    OrderListQuery,
    OrderOut,
    PlaceOrderIn,
    RefundIn,
    RefundOut,
)
from emporium.modules.orders.settings import OrdersSettings
from emporium.modules.orders.workflows import OrderSpec
from emporium.orchestrators import checkout
from emporium.platform.auth.gate import GatedRoute, auth_gate
from emporium.platform.http.context import audit_context
from emporium.platform.http.idempotency import idempotent
from emporium.platform.http.schemas import PageOut
from emporium.platform.http.state import database_of, settings_of
from emporium.platform.idempotency.store import IdempotencyClaim

router = APIRouter(prefix="/v1", route_class=GatedRoute, tags=["orders"])

IDEMPOTENCY_HEADER = {
    "parameters": [
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": True,
            "schema": {"type": "string", "minLength": 1, "maxLength": 255},
            "description": "A unique value per intended operation; a retry with the same key and body replays "
            "the first answer, with another body it is a 422, while the first is running a 409.",
        }
    ]
}


@router.post(
    "/orders",
    operation_id="orders_place",
    status_code=201,
    response_model=OrderOut,
    openapi_extra=IDEMPOTENCY_HEADER,
    responses={
        202: {
            "model": OrderOut,
            "description": "Placed; the payment outcome is not known yet. Recovery settles it (paid, or cancelled "
            "with nothing charged); until then a retry with the same key answers 409 "
            "`idempotency_key_in_flight`, then the final answer (201), or the order is placed again when the "
            "first one was cancelled without a charge",
        },
        402: {"description": "The payment was declined; the order is cancelled and its stock released"},
        422: {"description": "Invalid request, unknown payment provider or malformed card token: nothing is written"},
        409: {"description": "Out of stock, or the same Idempotency-Key is still in flight"},
    },
)
async def place_order(request: Request, body: PlaceOrderIn) -> Response:
    principal = auth_gate(request, Perm.ORDERS_WRITE)
    db, audit = database_of(request), audit_context(request, principal)
    spec = OrderSpec(
        lines=[(line.sku, line.quantity) for line in body.lines],
        customer_email=str(body.customer.email),
        customer_name=body.customer.name,
        customer_phone=body.customer.phone,
        shipping_address=body.shipping_address.model_dump(exclude_none=True),
        shipping_minor=body.shipping_amount,
        currency=body.currency,
        metadata=body.metadata,
    )
    choice = checkout.PaymentChoice(body.payment.provider, body.payment.card_token)
    reservation_ttl = timedelta(seconds=settings_of(request, OrdersSettings).order_reservation_ttl)

    async def effect(claim: IdempotencyClaim) -> tuple[int, workflows.Order]:
        placed = await checkout.place_order(db, principal, audit, claim, spec, choice, reservation_ttl=reservation_ttl)
        return (201 if placed.settled else 202), placed.order  # presented by `_placed` only when not stored

    return await idempotent(request, principal, effect, present=_placed)


def _placed(order: object) -> tuple[int, OrderOut]:
    """The stored answer of a settled checkout (a retry with the same key replays it)."""
    assert isinstance(order, workflows.Order)
    return 201, OrderOut.of(order)


@router.get("/orders", operation_id="orders_list")
async def list_orders(request: Request, query: Annotated[OrderListQuery, Query()]) -> PageOut[OrderOut]:
    principal = auth_gate(request, Perm.ORDERS_READ)
    page = await workflows.list_orders(
        database_of(request),
        principal,
        status=query.status,
        customer_email=query.customer_email,
        created_from=query.created_from,
        created_to=query.created_to,
        cursor=query.cursor,
        limit=query.limit,
    )
    return PageOut(items=[OrderOut.of(o) for o in page.items], next_cursor=page.next_cursor)


@router.get("/orders/{id}", operation_id="orders_get")
async def get_order(request: Request, id: str) -> OrderOut:
    principal = auth_gate(request, Perm.ORDERS_READ)
    return OrderOut.of(await workflows.get_order(database_of(request), principal, id))


@router.post("/orders/{id}/cancel", operation_id="orders_cancel")
async def cancel_order(request: Request, id: str, body: CancelIn | None = None) -> OrderOut:
    principal = auth_gate(request, Perm.ORDERS_MANAGE)
    reason = body.reason if body else "requested_by_merchant"
    order = await checkout.cancel(database_of(request), principal, audit_context(request, principal), id, reason)
    return OrderOut.of(order)


@router.post("/orders/{id}/fulfill", operation_id="orders_fulfill")
async def fulfill_order(request: Request, id: str, body: FulfillIn) -> OrderOut:
    principal = auth_gate(request, Perm.ORDERS_MANAGE)
    order = await checkout.fulfill(
        database_of(request),
        principal,
        audit_context(request, principal),
        id,
        carrier=body.carrier,
        tracking_number=body.tracking_number,
    )
    return OrderOut.of(order)


@router.post("/orders/{id}/deliver", operation_id="orders_deliver")
async def deliver_order(request: Request, id: str) -> OrderOut:
    principal = auth_gate(request, Perm.ORDERS_MANAGE)
    order = await workflows.deliver_order(database_of(request), principal, audit_context(request, principal), id)
    return OrderOut.of(order)


@router.post(
    "/orders/{id}/refunds",
    operation_id="orders_refund",
    status_code=201,
    response_model=RefundOut,
    openapi_extra=IDEMPOTENCY_HEADER,
    responses={409: {"description": "Refunds would exceed the captured amount, or nothing is captured"}},
)
async def refund_order(request: Request, id: str, body: RefundIn) -> Response:
    principal = auth_gate(request, Perm.REFUNDS_WRITE)
    db = database_of(request)

    async def effect(claim: IdempotencyClaim) -> tuple[int, RefundOut]:
        made = await checkout.refund(db, principal, audit_context(request, principal), claim, id, body.amount)
        return 201, RefundOut(
            refund_id=made.refund_id,
            payment_id=made.payment_id,
            amount=MoneyOut.of(made.amount),
            order=OrderOut.of(made.order),
        )

    return await idempotent(request, principal, effect, claim_first=True)
