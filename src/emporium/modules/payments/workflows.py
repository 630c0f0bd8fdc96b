"""Payments workflows: one business outcome each, and never a transaction held across a provider call.

The pattern of every money move:

    tx1: read (and, for refunds, reserve) -> commit
    provider call with an idempotency key derived from our id (outside any transaction)
    tx2: conditional update from the state read + outbox event -> commit

A crash or timeout between the steps leaves a state that a retry or the
recovery job (`resolve_pending`) completes; the provider key makes the retry
a replay, never a second charge or refund.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog

from emporium.modules.payments import api
from emporium.modules.payments import services as store
from emporium.modules.payments.domain import (
    UNKNOWN_OUTCOME,
    AuthorizationOutcome,
    AuthorizationResult,
    CaptureExceedsAuthorization,
    Payment,
    PaymentStatus,
    ProviderCharge,
    ProviderError,
    ProviderEvent,
    ProviderPort,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
    Refund,
    RefundExceedsCapture,
    RefundKeyReused,
    RefundStatus,
    authorization_key,
    capture_amount,
    capture_key,
    check_cancellable,
    check_card_token,
    check_has_capture,
    check_refund,
    check_transition,
    forward_path,
    refund_provider_key,
    unknown_provider,
    void_key,
)
from emporium.modules.payments.events import PaymentRefunded
from emporium.modules.payments.providers import Providers, ProviderSettings, install, installed, uninstall
from emporium.platform.audit import store as audit_store
from emporium.platform.audit.entries import AuditContext
from emporium.platform.auth.principal import Principal
from emporium.platform.db.engine import Database
from emporium.platform.db.transaction import transaction
from emporium.platform.db.tx import Tx
from emporium.platform.errors import Conflict, InvalidTransition, NotFound, PaymentDeclined, ValidationFailed
from emporium.platform.events.outbox import publish
from emporium.platform.money import Money
from emporium.platform.telemetry.metrics import PAYMENT_OUTCOMES
from emporium.platform.telemetry.tracing import traced

__all__ = [
    "NO_NEWS",
    "CaptureExceedsAuthorization",
    "Payment",
    "PaymentDeclined",
    "PaymentStatus",
    "ProviderSettings",
    "Providers",
    "Refund",
    "RefundExceedsCapture",
    "RefundStatus",
    "WebhookReceipt",
    "authorize",
    "capture",
    "capture_held",
    "charge",
    "check_cancellable",
    "check_has_capture",
    "check_payment_method",
    "expire_authorizations",
    "get_payment",
    "install",
    "payment_for_order",
    "providers_of",
    "receive_provider_webhook",
    "refund",
    "resolve_charge",
    "resolve_pending",
    "stale_pending",
    "start_authorization",
    "uninstall",
    "void",
]

_log = structlog.stdlib.get_logger("emporium.payments")

NO_NEWS = UNKNOWN_OUTCOME  # "the provider said nothing new": settling then follows the payment as recorded


def providers_of(state: object) -> Providers | None:
    """The registry a runtime put on the app's state (handlers pass it on), if any."""
    value = getattr(state, "payment_providers", None)
    return value if isinstance(value, Providers) else None


def _adapter(db: Database, name: str, providers: Providers | None) -> ProviderPort:
    return (providers or installed()).get(name, db)


async def _read(db: Database, org_id: str, payment_id: str) -> Payment:
    async with transaction(db) as tx:
        payment = await store.get(tx, org_id, payment_id)
    if payment is None:
        raise NotFound(f"no payment {payment_id}")
    return payment


# --- the checkout's charge: checked before any write, called outside any transaction ---------------


def check_payment_method(db: Database, provider: str, card_token: str, providers: Providers | None = None) -> None:
    """Refuse (422, naming the field) a provider we do not have or a token it could never take; no I/O."""
    registry = providers or installed()
    if provider not in registry.names():
        raise unknown_provider(provider, registry.names())
    check_card_token(card_token, registry.get(provider, db).check_token(card_token))


@traced
async def charge(
    db: Database, payment: Payment, card_token: str, *, capture: bool, providers: Providers | None = None
) -> AuthorizationResult:
    """Ask the provider to authorize the pending payment (and capture it, with `capture`, in the same call).

    Nothing is written here: the caller records the answer in its own transaction
    (`payments.api.record_authorization`). The provider key is derived from the
    payment id, so a retry or recovery's call is a replay, never a second charge.
    A timeout is an `unknown` outcome, not an error.
    """
    adapter = _adapter(db, payment.provider, providers)
    try:
        result = await adapter.authorize(
            amount=payment.amount,
            card_token=card_token,
            idempotency_key=authorization_key(payment.id),
            reference=payment.id,
            capture=capture,
        )
    except ProviderTimeout as error:
        _log.warning("payment_outcome_unknown", payment_id=payment.id, provider=payment.provider, error=str(error))
        result = UNKNOWN_OUTCOME
    except ProviderRejected as error:
        result = AuthorizationResult(AuthorizationOutcome.FAILED, None, None, error.code)
    PAYMENT_OUTCOMES.labels(
        payment.provider, "authorize_capture" if capture else "authorize", result.outcome.value
    ).inc()
    return result


@traced
async def resolve_charge(
    db: Database, payment: Payment, *, capture: bool, providers: Providers | None = None
) -> AuthorizationResult:
    """Recovery: what became of a pending payment's charge, asked by our key; nothing is written here.

    A provider that never saw the request gets it again with the same key (one
    charge at most, by construction); a provider that still does not answer gives
    `unknown` and the payment stays pending for the next pass.
    """
    async with transaction(db) as tx:
        card_token = await store.card_token_of(tx, payment.org_id, payment.id)
    if card_token is None:
        raise NotFound(f"no payment {payment.id}")
    adapter = _adapter(db, payment.provider, providers)
    try:
        found = await adapter.get(idempotency_key=authorization_key(payment.id), provider_ref=payment.provider_ref)
    except (ProviderTimeout, ProviderRejected) as error:
        _log.warning("payment_lookup_failed", payment_id=payment.id, error=str(error))
        return UNKNOWN_OUTCOME
    if found is None:
        return await charge(db, payment, card_token, capture=capture, providers=providers)
    return _as_result(found, payment)


def _as_result(found: ProviderCharge, payment: Payment) -> AuthorizationResult:
    if found.status is PaymentStatus.CAPTURED:
        return AuthorizationResult(AuthorizationOutcome.CAPTURED, found.provider_ref, found.captured or payment.amount)
    if found.status is PaymentStatus.AUTHORIZED:
        return AuthorizationResult(AuthorizationOutcome.AUTHORIZED, found.provider_ref, found.authorized)
    if found.status in (PaymentStatus.DECLINED, PaymentStatus.FAILED):
        return AuthorizationResult(AuthorizationOutcome(found.status.value), found.provider_ref, None, found.reason)
    if found.status is PaymentStatus.VOIDED:  # held, then released before we heard of it: nothing taken
        return AuthorizationResult(AuthorizationOutcome.FAILED, found.provider_ref, None, "voided_at_provider")
    return UNKNOWN_OUTCOME  # the provider itself has no outcome yet


# --- authorization ----------------------------------------------------------------------------------


@traced
async def start_authorization(
    db: Database,
    *,
    org_id: str,
    order_id: str,
    amount: Money,
    card_token: str,
    provider: str = "sandbox",
    providers: Providers | None = None,
) -> Payment:
    """A `pending` payment for the order, or the order's live payment if it already has one."""
    _adapter(db, provider, providers)  # an unknown provider is a 404 before anything is written
    if amount.amount <= 0:
        raise ValidationFailed("a payment must be for a positive amount")
    for _ in range(3):
        async with transaction(db) as tx:
            payment = await store.insert_unless_live(
                tx, org_id=org_id, order_id=order_id, provider=provider, amount=amount, card_token=card_token
            )
            if payment is None:
                payment = await store.live_for_order(tx, org_id, order_id)
            await tx.commit()
        if payment is not None:
            return payment
        # The live payment we collided with ended between the two statements: try again.
    raise Conflict(f"order {order_id} keeps changing payments; retry")


@traced
async def authorize(db: Database, *, org_id: str, payment_id: str, providers: Providers | None = None) -> Payment:
    """Ask the provider to authorize a pending payment and record what it said.

    `authorized`, `declined` and `failed` are recorded (no error is raised for
    a decline: read the status). When the outcome is unknown (timeout, dropped
    connection) the payment stays `pending` for `resolve_pending`.
    """
    async with transaction(db) as tx:
        payment = await store.get(tx, org_id, payment_id)
        card_token = await store.card_token_of(tx, org_id, payment_id)
    if payment is None or card_token is None:
        raise NotFound(f"no payment {payment_id}")
    if payment.status is not PaymentStatus.PENDING:
        return payment
    return await _authorize_pending(db, payment, card_token, _adapter(db, payment.provider, providers))


async def _authorize_pending(db: Database, payment: Payment, card_token: str, adapter: ProviderPort) -> Payment:
    try:
        result = await adapter.authorize(
            amount=payment.amount,
            card_token=card_token,
            idempotency_key=authorization_key(payment.id),
            reference=payment.id,
        )
    except ProviderTimeout as error:
        _log.warning("payment_outcome_unknown", payment_id=payment.id, provider=payment.provider, error=str(error))
        PAYMENT_OUTCOMES.labels(payment.provider, "authorize", "unknown").inc()
        return payment
    except ProviderRejected as error:
        result = AuthorizationResult(AuthorizationOutcome.FAILED, None, None, error.code)
    PAYMENT_OUTCOMES.labels(payment.provider, "authorize", result.outcome.value).inc()
    return await _record_authorization(db, payment, result)


async def _record_authorization(db: Database, payment: Payment, result: AuthorizationResult) -> Payment:
    async with transaction(db) as tx:
        if result.outcome is AuthorizationOutcome.AUTHORIZED:
            moved = await api.to_authorized(tx, payment, result.amount or payment.amount, result.provider_ref)
        else:
            status = PaymentStatus(result.outcome.value)
            moved = await api.to_unauthorized(tx, payment, status, result.reason, result.provider_ref)
        current = moved or await store.get(tx, payment.org_id, payment.id)
        await tx.commit()
    assert current is not None
    if moved is None and result.outcome is AuthorizationOutcome.AUTHORIZED and not current.is_live:
        _log.error("provider_authorized_a_closed_payment", payment_id=payment.id, status=current.status.value)
    return current


@traced
async def resolve_pending(db: Database, *, org_id: str, payment_id: str, providers: Providers | None = None) -> Payment:
    """Recovery: ask the provider, by our key, what became of a pending payment, and record it.

    A provider that never saw the request gets it again with the same key
    (at most one charge by construction); a provider that does not answer
    leaves the payment pending.
    """
    async with transaction(db) as tx:
        payment = await store.get(tx, org_id, payment_id)
        card_token = await store.card_token_of(tx, org_id, payment_id)
    if payment is None or card_token is None:
        raise NotFound(f"no payment {payment_id}")
    if payment.status is not PaymentStatus.PENDING:
        return payment
    adapter = _adapter(db, payment.provider, providers)
    try:
        charge = await adapter.get(idempotency_key=authorization_key(payment.id), provider_ref=payment.provider_ref)
    except ProviderTimeout:
        return payment
    except ProviderRejected as error:
        _log.warning("payment_lookup_refused", payment_id=payment.id, code=error.code)
        return payment
    if charge is None:
        return await _authorize_pending(db, payment, card_token, adapter)
    if charge.status is PaymentStatus.PENDING:
        return payment
    return await _record_charge(db, payment, charge)


async def _record_charge(db: Database, payment: Payment, charge: ProviderCharge) -> Payment:
    async with transaction(db) as tx:
        for step in forward_path(PaymentStatus.PENDING, charge.status):
            await _apply_step(tx, payment, step, charge.authorized, charge.captured, charge.provider_ref, charge.reason)
        current = await store.get(tx, payment.org_id, payment.id)
        await tx.commit()
    assert current is not None
    return current


async def _apply_step(
    tx: Tx,
    payment: Payment,
    step: PaymentStatus,
    authorized: Money | None,
    captured: Money | None,
    provider_ref: str | None,
    reason: str | None,
    *,
    void_reason: str = "provider",
) -> Payment | None:
    """One forward move reported by the provider, with its event; None when the payment was not in the source state."""
    if step is PaymentStatus.AUTHORIZED:
        return await api.to_authorized(tx, payment, authorized or payment.amount, provider_ref)
    if step in (PaymentStatus.DECLINED, PaymentStatus.FAILED):
        return await api.to_unauthorized(tx, payment, step, reason, provider_ref)
    if step is PaymentStatus.CAPTURED:
        return await api.to_captured(tx, payment, captured or authorized or payment.amount)
    if step is PaymentStatus.VOIDED:
        return await api.to_voided(tx, payment, void_reason)
    return None


# --- capture and void -------------------------------------------------------------------------------


@traced
async def capture(
    db: Database,
    *,
    org_id: str,
    payment_id: str,
    amount: Money | None = None,
    audit: AuditContext | None = None,
    providers: Providers | None = None,
) -> Payment:
    """Capture an authorized payment (all of it by default, or `amount` <= authorized)."""
    payment = await _read(db, org_id, payment_id)
    if payment.status is PaymentStatus.CAPTURED and amount in (None, payment.captured):
        return payment  # a retried capture
    check_transition(payment.status, PaymentStatus.CAPTURED)
    target = capture_amount(payment, amount)
    adapter = _adapter(db, payment.provider, providers)
    await _call_provider(
        payment,
        lambda ref: adapter.capture(provider_ref=ref, amount=target, idempotency_key=capture_key(payment.id)),
    )
    async with transaction(db) as tx:
        moved = await api.to_captured(tx, payment, target)
        current = moved or await store.get(tx, org_id, payment_id)
        assert current is not None
        if moved is None and current.status is not PaymentStatus.CAPTURED:
            raise InvalidTransition("payment", current.status.value, PaymentStatus.CAPTURED.value)
        if moved is not None and audit is not None:
            await audit_store.record(tx, audit, payment_id)
        await tx.commit()
    return current


@traced
async def capture_held(db: Database, payment: Payment, providers: Providers | None = None) -> Payment:
    """Capture the payment if its funds are only held (an order captured at shipping); else leave it."""
    if not payment.awaits_capture:
        return payment
    return await capture(db, org_id=payment.org_id, payment_id=payment.id, providers=providers)


@traced
async def void(db: Database, *, org_id: str, payment_id: str, providers: Providers | None = None) -> Payment:
    """Release an authorization. Voiding a voided payment is a no-op."""
    payment = await _read(db, org_id, payment_id)
    voided, _ = await _void(db, payment, _adapter(db, payment.provider, providers), "requested")
    return voided


async def _void(db: Database, payment: Payment, adapter: ProviderPort, reason: str) -> tuple[Payment, bool]:
    """(the payment after, whether this call voided it)."""
    if payment.status is PaymentStatus.VOIDED:
        return payment, False
    check_transition(payment.status, PaymentStatus.VOIDED)
    await _call_provider(payment, lambda ref: adapter.void(provider_ref=ref, idempotency_key=void_key(payment.id)))
    async with transaction(db) as tx:
        moved = await api.to_voided(tx, payment, reason)
        current = moved or await store.get(tx, payment.org_id, payment.id)
        assert current is not None
        if moved is None and current.status is not PaymentStatus.VOIDED:
            raise InvalidTransition("payment", current.status.value, PaymentStatus.VOIDED.value)
        await tx.commit()
    return current, moved is not None


async def _call_provider(payment: Payment, call: Callable[[str], Awaitable[object]]) -> None:
    if payment.provider_ref is None:
        raise ProviderError(f"payment {payment.id} has no provider reference")
    try:
        await call(payment.provider_ref)
    except ProviderTimeout as error:
        raise ProviderUnavailable(f"the provider did not answer; retrying is safe ({error})", retry_after=5) from error
    except ProviderRejected as error:
        raise ProviderError(f"{payment.provider} refused: {error.message}", provider_code=error.code) from error


# --- refunds ----------------------------------------------------------------------------------------


@traced
async def refund(
    db: Database,
    *,
    org_id: str,
    payment_id: str,
    amount: Money,
    refund_key: str,
    audit: AuditContext | None = None,
    providers: Providers | None = None,
) -> Refund:
    """Refund part or all of a capture. The sum of refunds never exceeds the capture.

    The amount is reserved on the payment by one conditional update (and a
    CHECK) before the provider is called, so concurrent refunds cannot
    overshoot: the ones that do not fit get `RefundExceedsCapture` (409).
    The same `refund_key` returns the same `Refund` (driving it to the provider
    again if its outcome was unknown). A refund the provider refuses comes
    back with status `failed`, its amount given back to the payment.
    """
    if not 1 <= len(refund_key) <= 255:
        raise ValidationFailed("refund_key must be 1 to 255 characters")
    async with transaction(db) as tx:
        payment = await store.get(tx, org_id, payment_id)
        if payment is None:
            raise NotFound(f"no payment {payment_id}")
        found = await store.refund_by_key(tx, org_id, payment_id, refund_key)
        if found is None:
            check_refund(payment, amount)
            refund_id = await store.reserve_refund(tx, org_id, payment_id, refund_key, amount)
            if refund_id is None:  # a concurrent call with the same key won
                found = await store.refund_by_key(tx, org_id, payment_id, refund_key)
            else:
                found = await store.get_refund(tx, refund_id)
                if audit is not None:
                    await audit_store.record(tx, audit, refund_id)
                await tx.commit()
    assert found is not None
    if found.amount != amount:
        raise RefundKeyReused(f"refund key {refund_key!r} was used for a refund of {found.amount.format()}")
    if found.status is not RefundStatus.PENDING:
        return found
    return await _drive_refund(db, payment, found, _adapter(db, payment.provider, providers))


async def _drive_refund(db: Database, payment: Payment, pending: Refund, adapter: ProviderPort) -> Refund:
    if payment.provider_ref is None:
        raise ProviderError(f"payment {payment.id} has no provider reference")
    try:
        provider_ref = await adapter.refund(
            provider_ref=payment.provider_ref, amount=pending.amount, idempotency_key=refund_provider_key(pending.id)
        )
    except ProviderTimeout as error:
        raise ProviderUnavailable(
            f"the provider did not answer; retry with the same refund key ({error})", retry_after=5
        ) from error
    except ProviderRejected as error:
        async with transaction(db) as tx:
            await store.refund_failed(tx, pending.id, error.code)
            current = await store.get_refund(tx, pending.id)
            await tx.commit()
        assert current is not None
        return current
    async with transaction(db) as tx:
        done = await store.refund_succeeded(tx, pending.id, provider_ref)
        if done is not None:
            after = await store.get(tx, payment.org_id, payment.id)
            assert after is not None
            event = PaymentRefunded(
                payment_id=payment.id,
                order_id=payment.order_id,
                refund_id=done.id,
                amount_minor=done.amount.amount,
                refunded_total_minor=after.refunded.amount,
                currency=done.amount.currency,
            )
            await publish(tx, event, org_id=payment.org_id)
        current = done or await store.get_refund(tx, pending.id)
        await tx.commit()
    assert current is not None
    return current


# --- reads and jobs ---------------------------------------------------------------------------------


@traced
async def get_payment(db: Database, principal: Principal, payment_id: str) -> Payment:
    return await _read(db, principal.org_id, payment_id)


@traced
async def payment_for_order(db: Database, *, org_id: str, order_id: str) -> Payment | None:
    """The order's live payment, else its most recent one (None when it never had one)."""
    async with transaction(db) as tx:
        return await store.latest_for_order(tx, org_id, order_id)


@traced
async def stale_pending(db: Database, *, older_than: timedelta, limit: int) -> list[Payment]:
    """Pending payments created more than `older_than` ago (any org), oldest first: recovery's work list."""
    async with transaction(db) as tx:
        return await store.pending_before(tx, datetime.now(UTC) - older_than, limit)


@traced
async def expire_authorizations(
    db: Database, *, older_than: timedelta, limit: int = 100, providers: Providers | None = None
) -> list[Payment]:
    """Void authorizations older than `older_than` (any org); returns those this call voided.

    The caller (the checkout orchestrator's job) cancels their orders and releases their stock.
    """
    async with transaction(db) as tx:
        candidates = await store.authorized_before(tx, datetime.now(UTC) - older_than, limit)
    expired: list[Payment] = []
    for payment in candidates:
        try:
            voided, mine = await _void(db, payment, _adapter(db, payment.provider, providers), "expired")
        except (ProviderError, ProviderUnavailable, InvalidTransition) as error:
            _log.warning("authorization_expiry_failed", payment_id=payment.id, error=str(error))
            continue
        if mine:
            expired.append(voided)
    return expired


# --- inbound provider webhooks ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WebhookReceipt:
    event_id: str
    outcome: str  # duplicate | ignored | unknown_payment | stale | moved:<status>[,<status>]


@traced
async def receive_provider_webhook(
    db: Database,
    *,
    provider: str,
    body: bytes,
    headers: Mapping[str, str],
    providers: Providers | None = None,
) -> WebhookReceipt:
    """Verify, deduplicate by the provider's event id, and move the payment forward if the event says so.

    The event and its effect commit together; a replayed event id does
    nothing; an event that would move a payment backwards (it arrived late)
    is recorded and ignored.
    """
    adapter = _adapter(db, provider, providers)
    event = adapter.parse_webhook(body, headers)
    async with transaction(db) as tx:
        if not await store.first_provider_event(tx, provider, event):
            return WebhookReceipt(event.event_id, "duplicate")
        outcome = await _apply_event(tx, provider, event)
        await store.set_provider_event_outcome(tx, provider, event.event_id, outcome)
        await tx.commit()
    _log.info("provider_webhook", provider=provider, event_id=event.event_id, type=event.event_type, outcome=outcome)
    return WebhookReceipt(event.event_id, outcome)


async def _apply_event(tx: Tx, provider: str, event: ProviderEvent) -> str:
    if event.payment_id is None or event.status is None:
        return "ignored"
    payment = await store.lock_by_id(tx, event.payment_id)
    if payment is None or payment.provider != provider:
        return "unknown_payment"
    path = forward_path(payment.status, event.status)
    if not path:
        return "stale"
    currency = payment.amount.currency
    reported = Money(event.amount_minor, currency) if event.amount_minor is not None else None
    authorized = reported if path[-1] is PaymentStatus.AUTHORIZED else None
    if (authorized and payment.amount < authorized) or (
        reported and path[-1] is PaymentStatus.CAPTURED and payment.amount < reported
    ):
        return "invalid_amount"
    for step in path:
        moved = await _apply_step(tx, payment, step, authorized, reported, event.provider_ref, event.reason)
        if moved is None:
            return "stale"
        payment = moved
    return "moved:" + ",".join(step.value for step in path)
