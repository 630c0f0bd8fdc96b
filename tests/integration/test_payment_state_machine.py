"""Property tests of the payment state machine: the pure rules, and random operation sequences on PostgreSQL."""

from __future__ import annotations

import ast

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emporium.modules.payments import workflows
from emporium.modules.payments.domain import (
    LIVE_STATUSES,
    TERMINAL_STATUSES,
    TRANSITIONS,
    PaymentStatus,
    forward_path,
)
from emporium.platform.db.engine import Database
from emporium.platform.errors import DomainError
from emporium.platform.money import Money
from tests.services import ROOT
from tests.support.identity import Tenant
from tests.support.payments import authorized_payment

STATUSES = list(PaymentStatus)


def test_the_transition_table_is_a_forward_only_graph() -> None:
    assert set(TRANSITIONS) == set(PaymentStatus)
    assert all(not TRANSITIONS[s] for s in TERMINAL_STATUSES | {PaymentStatus.CAPTURED})
    # No status can be reached again once left: the graph has no cycle.
    rank = {PaymentStatus.PENDING: 0, PaymentStatus.AUTHORIZED: 1}
    for source, targets in TRANSITIONS.items():
        for target in targets:
            assert rank.get(target, 2) > rank.get(source, 2)
    assert LIVE_STATUSES.isdisjoint(TERMINAL_STATUSES)


@given(st.sampled_from(STATUSES), st.sampled_from(STATUSES))
def test_a_provider_report_moves_only_forward(current: PaymentStatus, reported: PaymentStatus) -> None:
    path = forward_path(current, reported)
    position = current
    for step in path:
        assert step in TRANSITIONS[position]
        position = step
    if path:
        assert position is reported
    if current in TERMINAL_STATUSES or current is PaymentStatus.CAPTURED:
        assert path == ()


OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("capture"), st.integers(min_value=-100, max_value=12_000)),
        st.tuples(st.just("capture_all"), st.just(0)),
        st.tuples(st.just("void"), st.just(0)),
        st.tuples(st.just("refund"), st.integers(min_value=-10, max_value=6_000)),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=OPERATIONS)
async def test_random_operation_sequences_keep_every_invariant(
    db: Database, tenant: Tenant, pg: asyncpg.Connection, operations: list[tuple[str, int]]
) -> None:
    org_id = tenant.org_id
    payment = await authorized_payment(db, org_id, Money(10_000, "EUR"))
    refunded = 0
    for n, (operation, amount) in enumerate(operations):
        before = (await workflows.get_payment(db, tenant.owner_principal, payment.id)).status
        try:
            if operation == "capture":
                await workflows.capture(db, org_id=org_id, payment_id=payment.id, amount=_money(amount))
            elif operation == "capture_all":
                await workflows.capture(db, org_id=org_id, payment_id=payment.id)
            elif operation == "void":
                await workflows.void(db, org_id=org_id, payment_id=payment.id)
            else:
                done = await workflows.refund(
                    db, org_id=org_id, payment_id=payment.id, amount=_money(amount), refund_key=f"k{n}"
                )
                refunded += done.amount.amount
        except (DomainError, ValueError):
            pass  # refused operations must leave the payment as it was
        after = await workflows.get_payment(db, tenant.owner_principal, payment.id)
        assert after.status is before or after.status in TRANSITIONS[before]
        assert 0 <= after.refunded.amount <= after.captured.amount <= after.authorized.amount <= after.amount.amount
        assert after.refunded.amount == refunded
    ledger = await pg.fetchrow(
        "SELECT coalesce(sum(amount) FILTER (WHERE operation = 'refund'), 0) AS refunded,"
        " coalesce(sum(amount) FILTER (WHERE operation = 'capture'), 0) AS captured,"
        " count(*) FILTER (WHERE operation = 'capture') AS captures"
        " FROM payments.sandbox_ledger WHERE charge_id = $1",
        payment.provider_ref,
    )
    final = await workflows.get_payment(db, tenant.owner_principal, payment.id)
    assert ledger["refunded"] == final.refunded.amount <= ledger["captured"] == final.captured.amount
    assert ledger["captures"] <= 1


def _money(amount: int) -> Money:
    return Money(amount, "EUR")


def test_payments_never_import_the_orders_module() -> None:
    offenders = []
    for path in sorted((ROOT / "src" / "emporium" / "modules" / "payments").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            offenders += [f"{path.name}: {n}" for n in names if n.startswith("emporium.modules.orders")]
    assert offenders == []
