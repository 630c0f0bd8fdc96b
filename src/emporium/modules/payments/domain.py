"""Payments rules as data and pure functions: statuses, the transition table, amounts, provider keys.

A payment goes `pending` -> `authorized` -> `captured`, or ends `declined`,
`failed` or `voided`. Refunds never change the status: they add to
`refunded` (never above `captured`). Any other move is an `InvalidTransition`
(409) naming both states. The same table decides whether a provider webhook
may move a payment: an event that would go backwards is ignored.

The provider port (`ProviderPort`) is declared here as a protocol of plain
values; the adapters (sandbox, Stripe) are in `providers/`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from emporium.platform.errors import (
    Conflict,
    DomainError,
    FieldError,
    InvalidTransition,
    NotFound,
    Unauthenticated,
    ValidationFailed,
)
from emporium.platform.money import Money


class PaymentStatus(StrEnum):
    PENDING = "pending"  # created; the provider's answer is not known (yet)
    AUTHORIZED = "authorized"  # funds held by the provider
    CAPTURED = "captured"  # funds taken (refunds may follow; they do not change the status)
    DECLINED = "declined"  # the card was refused (terminal)
    FAILED = "failed"  # the provider refused the request or errored (terminal)
    VOIDED = "voided"  # the authorization was released (terminal)

    @property
    def is_settled_ok(self) -> bool:
        """The money is held or taken: the order it pays for is paid."""
        return self in (PaymentStatus.AUTHORIZED, PaymentStatus.CAPTURED)

    @property
    def refusal(self) -> str:
        """How a client reads this status as the reason nothing was charged (a 402's detail)."""
        return _REFUSALS.get(self, f"the payment is {self.value}")

    @property
    def is_refused(self) -> bool:
        """Nothing is held or taken, and nothing will be: the order cannot be paid with it."""
        return self in TERMINAL_STATUSES

    @property
    def is_unresolved(self) -> bool:
        """The provider's answer is not known yet (recovery asks it again by our key)."""
        return self is PaymentStatus.PENDING


# A payment in one of these counts as the order's live payment; the database keeps at most one per order.
LIVE_STATUSES: frozenset[PaymentStatus] = frozenset(
    {PaymentStatus.PENDING, PaymentStatus.AUTHORIZED, PaymentStatus.CAPTURED}
)
TERMINAL_STATUSES: frozenset[PaymentStatus] = frozenset(
    {PaymentStatus.DECLINED, PaymentStatus.FAILED, PaymentStatus.VOIDED}
)
_REFUSALS: Mapping[PaymentStatus, str] = {
    PaymentStatus.DECLINED: "the card was declined",
    PaymentStatus.FAILED: "the payment provider refused it",
    PaymentStatus.VOIDED: "the authorization was voided",
}

TRANSITIONS: Mapping[PaymentStatus, frozenset[PaymentStatus]] = {
    PaymentStatus.PENDING: frozenset({PaymentStatus.AUTHORIZED, PaymentStatus.DECLINED, PaymentStatus.FAILED}),
    PaymentStatus.AUTHORIZED: frozenset({PaymentStatus.CAPTURED, PaymentStatus.VOIDED}),
    PaymentStatus.CAPTURED: frozenset(),
    PaymentStatus.DECLINED: frozenset(),
    PaymentStatus.FAILED: frozenset(),
    PaymentStatus.VOIDED: frozenset(),
}


class RefundStatus(StrEnum):
    PENDING = "pending"  # amount reserved on the payment; the provider's answer is not known (yet)
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # the provider refused; the reserved amount was given back


def can_move(current: PaymentStatus, target: PaymentStatus) -> bool:
    return target in TRANSITIONS[current]


def check_transition(current: PaymentStatus, target: PaymentStatus) -> None:
    if not can_move(current, target):
        raise InvalidTransition("payment", current.value, target.value)


# --- errors ---------------------------------------------------------------------------------------


class CaptureExceedsAuthorization(Conflict):
    code = "capture_exceeds_authorization"
    title = "The capture is larger than the authorized amount"


class RefundExceedsCapture(Conflict):
    code = "refund_exceeds_capture"
    title = "The refunds would exceed the captured amount"


class RefundKeyReused(DomainError):
    code = "refund_key_reused"
    status = 422
    title = "This refund key was used for a different refund"


class ProviderError(DomainError):
    """The provider answered with an error (not a decline): nothing happened there."""

    code = "provider_error"
    status = 502
    title = "The payment provider refused the request"


class ProviderUnavailable(DomainError):
    """The outcome at the provider is unknown (timeout, dropped connection); retrying is safe."""

    code = "provider_unavailable"
    status = 503
    title = "The payment provider did not answer"


class UnknownProvider(NotFound):
    code = "unknown_provider"
    title = "No such payment provider"


class UnacceptablePayment(ValidationFailed):
    """The payment choice of a checkout is refused before anything is written (422, naming the field)."""

    code = "invalid_payment"
    title = "The payment method cannot be used"


class InvalidSignature(Unauthenticated):
    code = "invalid_signature"
    title = "The webhook signature is not valid"


# --- entities -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Payment:
    id: str
    org_id: str
    order_id: str
    provider: str
    status: PaymentStatus
    amount: Money  # what the order asked for
    authorized: Money
    captured: Money
    refunded: Money  # succeeded refunds plus those still pending at the provider
    provider_ref: str | None
    failure_reason: str | None
    authorized_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES

    @property
    def is_settled_ok(self) -> bool:
        return self.status.is_settled_ok

    @property
    def is_refused(self) -> bool:
        return self.status.is_refused

    @property
    def is_unresolved(self) -> bool:
        return self.status.is_unresolved

    @property
    def is_charged(self) -> bool:
        """Money was taken: the order can only be refunded, not cancelled."""
        return self.status is PaymentStatus.CAPTURED

    @property
    def awaits_capture(self) -> bool:
        """Funds are held, not taken: a capture (or a void) is still to come."""
        return self.status is PaymentStatus.AUTHORIZED

    @property
    def refundable(self) -> Money:
        return self.captured - self.refunded


@dataclass(frozen=True, slots=True)
class Refund:
    id: str
    org_id: str
    payment_id: str
    refund_key: str
    amount: Money
    status: RefundStatus
    provider_ref: str | None
    failure_reason: str | None
    created_at: datetime
    updated_at: datetime


def capture_amount(payment: Payment, requested: Money | None) -> Money:
    """The amount to capture (all that is authorized by default); refused when above the authorization."""
    amount = payment.authorized if requested is None else requested
    if amount.currency != payment.amount.currency:
        raise CaptureExceedsAuthorization(f"capture in {amount.currency} of a payment in {payment.amount.currency}")
    if amount.amount <= 0:
        raise CaptureExceedsAuthorization("a capture must be a positive amount")
    if payment.authorized < amount:
        raise CaptureExceedsAuthorization(
            f"cannot capture {amount.format()}: only {payment.authorized.format()} is authorized",
            authorized=payment.authorized.amount,
        )
    return amount


def check_has_capture(payment: Payment | None, order_id: str) -> Payment:
    """The payment a refund of this order draws on: a captured one."""
    if payment is None or not payment.is_charged:
        raise Conflict(f"order {order_id} has no captured payment to refund; cancel it instead")
    return payment


def check_refund(payment: Payment, amount: Money) -> None:
    """Rules a refund must pass before the database's conditional update decides the race."""
    if payment.status is not PaymentStatus.CAPTURED:
        raise InvalidTransition("payment", payment.status.value, "refunded")
    if amount.currency != payment.amount.currency:
        raise RefundExceedsCapture(f"refund in {amount.currency} of a payment in {payment.amount.currency}")
    if amount.amount <= 0:
        raise RefundExceedsCapture("a refund must be a positive amount")
    if payment.refundable < amount:
        raise RefundExceedsCapture(
            f"cannot refund {amount.format()}: {payment.refundable.format()} of the capture is left",
            refundable=payment.refundable.amount,
        )


# --- provider idempotency keys --------------------------------------------------------------------


def authorization_key(payment_id: str) -> str:
    """One authorization per payment, however often it is retried."""
    return f"emporium:{payment_id}:authorize"


def capture_key(payment_id: str) -> str:
    return f"emporium:{payment_id}:capture"


def void_key(payment_id: str) -> str:
    return f"emporium:{payment_id}:void"


def refund_provider_key(refund_id: str) -> str:
    return f"emporium:{refund_id}:refund"


# --- the provider port ----------------------------------------------------------------------------


class AuthorizationOutcome(StrEnum):
    AUTHORIZED = "authorized"
    CAPTURED = "captured"  # authorized and captured in one call (automatic capture)
    DECLINED = "declined"
    FAILED = "failed"
    UNKNOWN = "unknown"  # the provider did not answer: recovery asks again by our key

    @property
    def status(self) -> PaymentStatus | None:
        """The payment status this outcome records (None: the payment stays pending)."""
        return None if self is AuthorizationOutcome.UNKNOWN else PaymentStatus(self.value)


@dataclass(frozen=True, slots=True)
class AuthorizationResult:
    outcome: AuthorizationOutcome
    provider_ref: str | None  # the provider's id for the charge / PaymentIntent
    amount: Money | None = None  # authorized amount (None when not authorized)
    reason: str | None = None  # decline or failure code

    @property
    def succeeded(self) -> bool:
        """The provider authorized the charge (and captured it, with automatic capture): it pays an order."""
        status = self.outcome.status
        return status is not None and status.is_settled_ok


UNKNOWN_OUTCOME = AuthorizationResult(AuthorizationOutcome.UNKNOWN, None)

# What a card token may look like at any provider: visible ASCII, no spaces (provider adapters narrow it).
_TOKEN_CHARS = frozenset(chr(c) for c in range(0x21, 0x7F))


def check_card_token(card_token: str, provider_reason: str | None) -> None:
    """Refuse a token no provider could take (or that this provider says is malformed), before any write."""
    if not 1 <= len(card_token) <= 255 or not set(card_token) <= _TOKEN_CHARS:
        provider_reason = "1 to 255 visible ASCII characters"
    if provider_reason is not None:
        raise UnacceptablePayment(
            f"the card token cannot be used: {provider_reason}",
            errors=[FieldError("payment.card_token", "format", provider_reason)],
        )


def unknown_provider(name: str, configured: list[str]) -> UnacceptablePayment:
    return UnacceptablePayment(
        f"no payment provider {name!r}; configured: {', '.join(configured)}",
        errors=[FieldError("payment.provider", "enum", f"one of: {', '.join(configured)}")],
    )


@dataclass(frozen=True, slots=True)
class ProviderCharge:
    """What the provider says about one charge (for recovery), looked up by our key or its ref."""

    provider_ref: str
    status: PaymentStatus  # in our words; `pending` when the provider itself has no outcome yet
    authorized: Money | None
    captured: Money | None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    """A verified inbound webhook: the provider's event id and, when it concerns a payment, what it says."""

    event_id: str
    event_type: str
    payment_id: str | None
    status: PaymentStatus | None  # the state the provider reports (None: nothing we act on)
    amount_minor: int | None = None
    provider_ref: str | None = None
    reason: str | None = None


class ProviderTimeout(Exception):
    """The call may or may not have happened at the provider (timeout, dropped connection, 5xx)."""


class ProviderRejected(Exception):
    """The provider answered with a definite error: nothing happened there."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class ProviderPort(Protocol):
    """A payment provider. Every call that moves money carries our idempotency key.

    Calls raise `ProviderTimeout` when the outcome is unknown and
    `ProviderRejected` when the provider definitely did nothing.
    """

    name: str

    def check_token(self, card_token: str) -> str | None:
        """Why this provider could never accept the token (None: it may); no I/O."""
        ...

    async def authorize(
        self,
        *,
        amount: Money,
        card_token: str,
        idempotency_key: str,
        reference: str | None = None,
        capture: bool = False,
    ) -> AuthorizationResult:
        """`reference` (our payment id) is stored with the charge so webhooks can name the payment.

        With `capture`, the provider authorizes and captures in one call (Stripe's automatic
        capture): the outcome is `captured`, never a held authorization left behind.
        """
        ...

    async def capture(self, *, provider_ref: str, amount: Money, idempotency_key: str) -> None: ...

    async def void(self, *, provider_ref: str, idempotency_key: str) -> None: ...

    async def refund(self, *, provider_ref: str, amount: Money, idempotency_key: str) -> str:
        """Returns the provider's refund id."""
        ...

    async def get(self, *, idempotency_key: str, provider_ref: str | None) -> ProviderCharge | None:
        """The charge made with this authorization key (or ref); None when the provider never saw it."""
        ...

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> ProviderEvent:
        """Verify the signature over the raw body and read the event; `InvalidSignature` otherwise."""
        ...

    async def close(self) -> None: ...


def forward_path(current: PaymentStatus, reported: PaymentStatus) -> tuple[PaymentStatus, ...]:
    """The moves that bring a payment from `current` to what a provider reports, or () when that is not forward.

    Provider events may arrive out of order: a `captured` or `voided` report
    about a payment we still hold as `pending` implies the authorization we
    have not heard of yet, so the path goes through `authorized`. A report
    that would move a payment backwards (or sideways) gives ().
    """
    if can_move(current, reported):
        return (reported,)
    if current is PaymentStatus.PENDING and reported in TRANSITIONS[PaymentStatus.AUTHORIZED]:
        return (PaymentStatus.AUTHORIZED, reported)
    return ()
