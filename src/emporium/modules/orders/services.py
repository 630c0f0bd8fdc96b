"""Orders storage (service role) and the calls an order makes to other modules' apis in its own transaction.

The calls to other modules are thin and untraced: the api function they call has its own span.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, Interval, Text, and_, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import JSONB

from emporium.modules.catalog import api as catalog_api
from emporium.modules.identity import api as identity_api
from emporium.modules.orders.domain import CaptureMode, Order, OrderLine, OrderStatus
from emporium.modules.orders.tables import order, order_line
from emporium.modules.payments import api as payments_api
from emporium.platform.db.deferred import DeferredWrite, Returned, exactly_one_row, json_rows
from emporium.platform.db.keyset import keyset_page_query, time_id_key
from emporium.platform.db.sequence import SequenceBlocks
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


def quote_lines(org_id: str, wanted: Sequence[tuple[str, int]]) -> list[catalog_api.PricedLine] | None:
    """The wanted lines priced as last seen on sale, without a round trip; None: price them by reserving."""
    return catalog_api.quote_lines(org_id, [catalog_api.StockLine(sku, qty) for sku, qty in wanted])


def reserve_quoted_at_commit(tx: Tx, org_id: str, quoted: Sequence[catalog_api.PricedLine]) -> None:
    catalog_api.reserve_quoted_at_commit(tx, org_id, quoted)


QuoteMoved = catalog_api.QuoteMoved


async def release_stock(tx: Tx, org_id: str, lines: Sequence[OrderLine]) -> None:
    await catalog_api.release_stock(tx, org_id, _stock(lines))


async def commit_stock(tx: Tx, org_id: str, order_id: str, lines: Sequence[OrderLine]) -> None:
    await catalog_api.commit_stock(tx, org_id, _stock(lines), actor_id=order_id, reason=f"order {order_id} shipped")


# --- payments, through their public api -----------------------------------------------------------

Payment = payments_api.Payment
AuthorizationResult = payments_api.AuthorizationResult


def open_payment(tx: Tx, placed: NewOrder, provider: str, card_token: str) -> Payment:
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


# An order and its lines are written with the transaction's deferred writes (decision 043): two writes of
# one statement, the lines' foreign key checked at its end, when both rows exist. Its number comes from a
# block of the identity's sequence, because its OrderCreated event, written by the same statement, names it.
ORDER_NUMBER_BLOCK = 50
_NUMBERS = SequenceBlocks("pg_get_serial_sequence('orders.\"order\"', 'number')", ORDER_NUMBER_BLOCK)


async def next_order_number(tx: Tx) -> int:
    """A new order's number, reading a new block in the transaction when this process's is used up."""
    return await _NUMBERS.next(tx)


@dataclass(frozen=True, slots=True)
class NewOrder:
    """A new order as its caller knows it before COMMIT; `placed()` adds, after it, what the database
    decided as it wrote the row (the org's capture mode, the times)."""

    id: str
    org_id: str
    number: int
    customer_email: str
    customer_name: str | None
    customer_phone: str | None
    shipping_address: dict[str, Any]
    metadata: dict[str, Any]
    lines: tuple[OrderLine, ...]
    subtotal: Money
    shipping: Money
    total: Money
    reservation_ttl: timedelta

    @property
    def currency(self) -> str:
        return self.total.currency

    def placed(self, written: Returned) -> Order:
        """The order as `insert_order_at_commit` wrote it (read after COMMIT)."""
        capture_mode, created_at, reservation_expires_at = written.values
        return Order(
            id=self.id, org_id=self.org_id, number=self.number, status=OrderStatus.PENDING_PAYMENT,
            capture_mode=CaptureMode(capture_mode), customer_email=self.customer_email,
            customer_name=self.customer_name, customer_phone=self.customer_phone,
            shipping_address=self.shipping_address, metadata=self.metadata, lines=self.lines,
            subtotal=self.subtotal, shipping=self.shipping, total=self.total, refunded=Money(0, self.currency),
            carrier=None, tracking_number=None, cancel_reason=None, reservation_expires_at=reservation_expires_at,
            version=1, created_at=created_at, updated_at=created_at,
        )  # fmt: skip


_CAPTURE_MODE = identity_api.capture_mode_sql("org_id")  # the org's setting, read by this statement
_ORDER_AT_COMMIT = DeferredWrite[NewOrder](
    "orders.order",
    f"""
    INSERT INTO orders."order"
           (id, org_id, number, status, capture_mode, currency, subtotal_amount, shipping_amount, total_amount,
            customer_email, customer_name, customer_phone, shipping_address, metadata, reservation_expires_at)
    VALUES (:id, :org_id, :number, :status, {_CAPTURE_MODE}, :currency, :subtotal, :shipping, :total,
            :email, :name, :phone, :address, :metadata, now() + :ttl)
    RETURNING capture_mode, created_at, reservation_expires_at
    """,  # noqa: S608 (constant SQL)
    lambda items: _order_values(items[0]),
    types={
        **{n: Text() for n in ("id", "org_id", "status", "currency", "email", "name", "phone")},
        **{n: BigInteger() for n in ("number", "subtotal", "shipping", "total")},
        "address": JSONB(),
        "metadata": JSONB(),
        "ttl": Interval(),
    },
    returning=("capture_mode", "created_at", "reservation_expires_at"),
)
_LINES_AT_COMMIT = DeferredWrite[NewOrder](
    "orders.order_line",
    """
    INSERT INTO orders.order_line
           (order_id, line_no, product_id, sku, name, unit_price_amount, quantity, line_total_amount)
    SELECT x.* FROM json_to_recordset(CAST(:lines AS json))
                    AS x(order_id text, line_no integer, product_id text, sku text, name text,
                         unit_price_amount bigint, quantity integer, line_total_amount bigint)
    RETURNING 1
    """,
    lambda items: {
        "lines": json_rows(
            [
                {
                    "order_id": o.id,
                    "line_no": line.line_no,
                    "product_id": line.product_id,
                    "sku": line.sku,
                    "name": line.name,
                    "unit_price_amount": line.unit_price.amount,
                    "quantity": line.quantity,
                    "line_total_amount": line.total.amount,
                }
                for o in items
                for line in o.lines
            ]
        )
    },
)


def _order_values(o: NewOrder) -> dict[str, Any]:
    return {
        "id": o.id, "org_id": o.org_id, "number": o.number, "status": OrderStatus.PENDING_PAYMENT.value,
        "currency": o.currency, "subtotal": o.subtotal.amount, "shipping": o.shipping.amount,
        "total": o.total.amount, "email": o.customer_email, "name": o.customer_name, "phone": o.customer_phone,
        "address": o.shipping_address, "metadata": o.metadata, "ttl": o.reservation_ttl,
    }  # fmt: skip


def insert_order_at_commit(tx: Tx, new: NewOrder) -> Returned:
    """Queue the order and its lines for the transaction's deferred writes; `new.placed(returned)` after COMMIT."""
    written = tx.write_before_commit(_ORDER_AT_COMMIT, new)
    tx.write_before_commit(_LINES_AT_COMMIT, new)
    return written


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
