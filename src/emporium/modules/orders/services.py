"""Orders storage (service role) and the calls an order makes to other modules' apis in its own transaction.

The calls to other modules are thin and untraced: the api function they call has its own span.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ARRAY, BigInteger, DateTime, Integer, Interval, Text, and_, bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import JSONB

from emporium.modules.catalog import api as catalog_api
from emporium.modules.identity import api as identity_api
from emporium.modules.orders.domain import CaptureMode, Order, OrderLine, OrderStatus
from emporium.modules.orders.tables import order, order_line
from emporium.modules.payments import api as payments_api
from emporium.platform.db.deferred import DeferredWrite, exactly_one_row
from emporium.platform.db.keyset import keyset_page_query, time_id_key
from emporium.platform.db.tx import Tx
from emporium.platform.money import Money
from emporium.platform.pagination import Page, page_of
from emporium.platform.telemetry.tracing import traced

# --- catalog, through its public api --------------------------------------------------------------


def _stock(lines: Sequence[OrderLine]) -> list[catalog_api.StockLine]:
    return [catalog_api.StockLine(line.sku, line.quantity) for line in lines]


async def reserve_stock(tx: Tx, org_id: str, wanted: Sequence[tuple[str, int]]) -> list[catalog_api.PricedLine]:
    """Reserve the wanted lines and price them (one statement in the catalog)."""
    return await catalog_api.reserve_stock(tx, org_id, [catalog_api.StockLine(sku, qty) for sku, qty in wanted])


async def release_stock(tx: Tx, org_id: str, lines: Sequence[OrderLine]) -> None:
    await catalog_api.release_stock(tx, org_id, _stock(lines))


async def commit_stock(tx: Tx, org_id: str, order_id: str, lines: Sequence[OrderLine]) -> None:
    await catalog_api.commit_stock(tx, org_id, _stock(lines), actor_id=order_id, reason=f"order {order_id} shipped")


# --- payments, through their public api -----------------------------------------------------------

Payment = payments_api.Payment
AuthorizationResult = payments_api.AuthorizationResult


def open_payment(tx: Tx, placed: Order, provider: str, card_token: str) -> Payment:
    return payments_api.open_payment(
        tx, org_id=placed.org_id, order_id=placed.id, provider=provider, amount=placed.total, card_token=card_token
    )


async def record_payment_success_at_commit(tx: Tx, payment: Payment, result: AuthorizationResult) -> Payment:
    return await payments_api.record_success_at_commit(tx, payment, result)


async def record_payment(tx: Tx, payment: Payment, result: AuthorizationResult) -> Payment:
    return await payments_api.record_authorization(tx, payment, result)


# --- orders -------------------------------------------------------------------------------------


def _order(row: Any, lines: Sequence[OrderLine]) -> Order:
    currency = row.currency
    return Order(
        id=row.id,
        org_id=row.org_id,
        number=row.number,
        status=OrderStatus(row.status),
        capture_mode=CaptureMode(row.capture_mode),
        customer_email=row.customer_email,
        customer_name=row.customer_name,
        customer_phone=row.customer_phone,
        shipping_address=row.shipping_address,
        metadata=row.metadata,
        lines=tuple(lines),
        subtotal=Money(row.subtotal_amount, currency),
        shipping=Money(row.shipping_amount, currency),
        total=Money(row.total_amount, currency),
        refunded=Money(row.refunded_amount, currency),
        carrier=row.carrier,
        tracking_number=row.tracking_number,
        cancel_reason=row.cancel_reason,
        reservation_expires_at=row.reservation_expires_at,
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def _lines(tx: Tx, order_ids: Sequence[str], currency: dict[str, str]) -> dict[str, list[OrderLine]]:
    found: dict[str, list[OrderLine]] = {oid: [] for oid in order_ids}
    if not order_ids:
        return found
    query = (
        select(order_line)
        .where(order_line.c.order_id.in_(list(order_ids)))
        .order_by(order_line.c.order_id, order_line.c.line_no)
    )
    for row in await tx.execute(query):
        found[row.order_id].append(
            OrderLine(
                row.line_no,
                row.product_id,
                row.sku,
                row.name,
                Money(row.unit_price_amount, currency[row.order_id]),
                row.quantity,
            )
        )
    return found


# The order and its lines in one statement (one round trip): the lines come in as parallel arrays.
_CAPTURE_MODE = identity_api.capture_mode_sql("org_id")  # the org's setting, read by this statement
_INSERT_ORDER = text(
    f"""
    WITH o AS (
        INSERT INTO orders."order"
               (id, org_id, status, capture_mode, currency, subtotal_amount, shipping_amount, total_amount,
                customer_email, customer_name, customer_phone, shipping_address, metadata, reservation_expires_at)
        VALUES (:id, :org_id, :status, {_CAPTURE_MODE}, :currency, :subtotal, :shipping, :total,
                :email, :name, :phone, :address, :metadata, now() + :ttl)
        RETURNING *
    ), l AS (
        INSERT INTO orders.order_line
               (order_id, line_no, product_id, sku, name, unit_price_amount, quantity, line_total_amount)
        SELECT o.id, x.* FROM o, unnest(:line_nos, :product_ids, :skus, :names, :unit_prices, :quantities,
                                        :line_totals) AS x
    )
    SELECT * FROM o
    """  # noqa: S608 (constant SQL)
).bindparams(
    *(bindparam(n, type_=Text) for n in ("id", "org_id", "status", "currency", "email")),
    *(bindparam(n, type_=Text) for n in ("name", "phone")),
    *(bindparam(n, type_=BigInteger) for n in ("subtotal", "shipping", "total")),
    bindparam("address", type_=JSONB),
    bindparam("metadata", type_=JSONB),
    bindparam("ttl", type_=Interval),
    *(bindparam(n, type_=ARRAY(Text)) for n in ("product_ids", "skus", "names")),
    *(bindparam(n, type_=ARRAY(Integer)) for n in ("line_nos", "quantities")),
    *(bindparam(n, type_=ARRAY(BigInteger)) for n in ("unit_prices", "line_totals")),
)


@traced
async def insert_order(
    tx: Tx,
    *,
    order_id: str,
    org_id: str,
    customer: dict[str, Any],
    shipping_address: dict[str, Any],
    metadata: dict[str, Any],
    lines: Sequence[OrderLine],
    subtotal: Money,
    shipping: Money,
    reservation_ttl: timedelta,
) -> Order:
    params = {
        "id": order_id,
        "org_id": org_id,
        "status": OrderStatus.PENDING_PAYMENT.value,
        "currency": subtotal.currency,
        "subtotal": subtotal.amount,
        "shipping": shipping.amount,
        "total": subtotal.amount + shipping.amount,
        "email": customer["email"],
        "name": customer.get("name"),
        "phone": customer.get("phone"),
        "address": shipping_address,
        "metadata": metadata,
        "ttl": reservation_ttl,
        "line_nos": [line.line_no for line in lines],
        "product_ids": [line.product_id for line in lines],
        "skus": [line.sku for line in lines],
        "names": [line.name for line in lines],
        "unit_prices": [line.unit_price.amount for line in lines],
        "quantities": [line.quantity for line in lines],
        "line_totals": [line.total.amount for line in lines],
    }
    row = (await tx.execute(_INSERT_ORDER, params)).one()
    return _order(row, lines)


@traced
async def get_order(tx: Tx, org_id: str, order_id: str, *, for_update: bool = False) -> Order | None:
    query = select(order).where(order.c.org_id == org_id, order.c.id == order_id)
    if for_update:
        query = query.with_for_update()
    row = (await tx.execute(query)).one_or_none()
    if row is None:
        return None
    return _order(row, (await _lines(tx, [row.id], {row.id: row.currency}))[row.id])


@traced
async def set_status(tx: Tx, current: Order, target: OrderStatus, **values: Any) -> Order:
    """Move a locked order to `target` (the caller checked the transition); returns the new state."""
    statement = (
        update(order)
        .where(order.c.id == current.id, order.c.status == current.status.value)
        .values(status=target.value, version=order.c.version + 1, updated_at=func.now(), **values)
        .returning(*order.c)
    )
    row = (await tx.execute(statement)).one()
    return _order(row, current.lines)


_MOVES: dict[frozenset[str], Any] = {}


def _move_statement(columns: frozenset[str]) -> Any:
    """The status move that also sets `columns`, built once per set of columns (a call binds values only)."""
    found = _MOVES.get(columns)
    if found is None:
        found = _MOVES[columns] = (
            update(order)
            .where(order.c.id == bindparam("p_id"), order.c.status == bindparam("p_from"))
            .values(
                status=bindparam("p_to"),
                version=order.c.version + 1,
                updated_at=func.now(),
                **{column: bindparam(f"p_{column}") for column in sorted(columns)},
            )
            .returning(*order.c)
        )
    return found


def _move_params(moves: list[tuple[Order, Order]]) -> dict[str, Any]:
    ((held, moved),) = moves
    return {"id": held.id, "from": held.status.value, "version": held.version, "to": moved.status.value,
            "at": moved.updated_at}  # fmt: skip


# An order's status move written with the transaction's one statement before COMMIT; the row check makes
# an order another writer moved first (or changed: its version) roll the transaction back (`RowsMoved`).
_MOVE_AT_COMMIT = DeferredWrite[tuple[Order, Order]](
    "order_moved",
    """
    UPDATE orders."order" SET status = :to, version = version + 1, updated_at = :at
     WHERE id = :id AND status = :from AND version = :version
    RETURNING 1
    """,
    _move_params,
    types={"at": DateTime(timezone=True), "version": Integer()},
    check=exactly_one_row("the order"),
)


def move_status_at_commit(tx: Tx, current: Order, target: OrderStatus) -> Order:
    """`move_status` with no extra columns, written just before COMMIT: the order as it will be."""
    moved = replace(current, status=target, version=current.version + 1, updated_at=datetime.now(UTC))
    tx.write_before_commit(_MOVE_AT_COMMIT, (current, moved))
    return moved


@traced
async def move_status(tx: Tx, current: Order, target: OrderStatus, **values: Any) -> Order | None:
    """Move the order from the state the caller holds to `target`; None when it is no longer in that state."""
    params = {"p_id": current.id, "p_from": current.status.value, "p_to": target.value}
    params.update({f"p_{column}": value for column, value in values.items()})
    row = (await tx.execute(_move_statement(frozenset(values)), params)).one_or_none()
    return _order(row, current.lines) if row is not None else None


@traced
async def list_orders(
    tx: Tx,
    org_id: str,
    *,
    status: OrderStatus | None,
    customer_email: str | None,
    created_from: datetime | None,
    created_to: datetime | None,
    cursor: str | None,
    limit: int,
) -> Page[Order]:
    query = select(order).where(order.c.org_id == org_id)
    if status is not None:
        query = query.where(order.c.status == status.value)
    if customer_email is not None:
        query = query.where(order.c.customer_email == customer_email.strip().lower())
    if created_from is not None:
        query = query.where(order.c.created_at >= created_from)
    if created_to is not None:
        query = query.where(order.c.created_at < created_to)
    query = keyset_page_query(query, order.c.created_at, order.c.id, cursor, limit, descending=True)
    rows = list(await tx.execute(query))
    lines = await _lines(tx, [r.id for r in rows], {r.id: r.currency for r in rows})
    orders = [_order(r, lines[r.id]) for r in rows]
    return page_of(orders, limit, lambda o: time_id_key(o.created_at, o.id))


@traced
async def expired_pending(tx: Tx, limit: int) -> list[tuple[str, str]]:
    """(org_id, order_id) of orders still awaiting payment after their reservation expired."""
    query = (
        select(order.c.org_id, order.c.id)
        .where(and_(order.c.status == OrderStatus.PENDING_PAYMENT.value, order.c.reservation_expires_at < func.now()))
        .order_by(order.c.reservation_expires_at)
        .limit(limit)
    )
    return [(r.org_id, r.id) for r in await tx.execute(query)]
