"""Orders' and payments' rules, pure and fast: state machines, totals, refunds, out-of-order provider reports.

The same rules are exercised through PostgreSQL by the integration tests; here they run in microseconds,
so every combination is checked.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emporium.modules.orders.domain import (
    REFUNDABLE,
    TRANSITIONS,
    OrderLine,
    OrderStatus,
    check_payable,
    check_transition,
    order_totals,
    status_after_refund,
)
from emporium.modules.payments import domain as payments
from emporium.modules.payments.domain import PaymentStatus, can_move, forward_path
from emporium.platform.errors import InvalidTransition, ValidationFailed
from emporium.platform.money import Money


@pytest.mark.parametrize(("current", "target"), list(itertools.product(OrderStatus, OrderStatus)))
def test_an_order_moves_only_along_its_table(current: OrderStatus, target: OrderStatus) -> None:
    if target in TRANSITIONS[current]:
        check_transition(current, target)
    else:
        with pytest.raises(InvalidTransition):
            check_transition(current, target)


def test_terminal_orders_never_move_and_every_status_is_reachable() -> None:
    assert not TRANSITIONS[OrderStatus.REFUNDED] and not TRANSITIONS[OrderStatus.CANCELLED]
    reached, frontier = {OrderStatus.PENDING_PAYMENT}, [OrderStatus.PENDING_PAYMENT]
    while frontier:
        for target in TRANSITIONS[frontier.pop()] - reached:
            reached.add(target)
            frontier.append(target)
    assert reached == set(OrderStatus)


@given(total=st.integers(1, 10**9), refunded=st.integers(1, 10**9))
def test_a_refund_of_the_whole_total_refunds_the_order_and_less_refunds_it_partly(total: int, refunded: int) -> None:
    status = status_after_refund(OrderStatus.PAID, Money(refunded, "EUR"), Money(total, "EUR"))
    assert status is (OrderStatus.REFUNDED if refunded >= total else OrderStatus.PARTIALLY_REFUNDED)
    assert OrderStatus.PAID in REFUNDABLE


def test_a_cancelled_order_cannot_be_refunded() -> None:
    with pytest.raises(InvalidTransition):
        status_after_refund(OrderStatus.CANCELLED, Money(1, "EUR"), Money(10, "EUR"))


@given(prices=st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 50)), min_size=1, max_size=10),
       shipping=st.integers(0, 10**5))  # fmt: skip
def test_order_totals_add_every_line_and_the_shipping(prices: list[tuple[int, int]], shipping: int) -> None:
    lines = [OrderLine(i, f"prd_{i}", f"SKU-{i}", "name", Money(p, "EUR"), q) for i, (p, q) in enumerate(prices)]
    totals = order_totals(lines, Money(shipping, "EUR"))
    assert totals.subtotal.amount == sum(p * q for p, q in prices)
    assert totals.total.amount == totals.subtotal.amount + shipping


def test_order_totals_refuse_a_line_in_another_currency_naming_it() -> None:
    lines = [
        OrderLine(0, "prd_a", "A", "a", Money(100, "EUR"), 1),
        OrderLine(1, "prd_b", "B", "b", Money(100, "USD"), 1),
    ]
    with pytest.raises(ValidationFailed) as refused:
        order_totals(lines, Money(0, "EUR"))
    assert [e.field for e in refused.value.errors] == ["lines[1]"]


@pytest.mark.parametrize("total", [0, -1])
def test_a_free_or_negative_order_is_not_payable(total: int) -> None:
    with pytest.raises(ValidationFailed):
        check_payable(total)


@pytest.mark.parametrize(("current", "reported"), list(itertools.product(PaymentStatus, PaymentStatus)))
def test_a_provider_report_moves_a_payment_only_forward(current: PaymentStatus, reported: PaymentStatus) -> None:
    path = forward_path(current, reported)
    state = current
    for step in path:  # every step of the path is a legal move
        assert can_move(state, step)
        state = step
    assert path == () or state is reported
    if current in payments.TERMINAL_STATUSES:
        assert path == () or can_move(current, reported)
