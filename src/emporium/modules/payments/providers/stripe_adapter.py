"""Stripe through the official library: PaymentIntents with manual capture.

| Port call | Stripe request |
|---|---|
| authorize | `POST /v1/payment_intents` (`confirm=true`; `capture_method=manual`, `automatic` to capture now) |
| capture   | `POST /v1/payment_intents/{id}/capture` (`amount_to_capture`) |
| void      | `POST /v1/payment_intents/{id}/cancel` |
| refund    | `POST /v1/refunds` (`payment_intent`, `amount`) |
| get       | `GET /v1/payment_intents/{id}`, or search by our key in metadata |

Every POST carries our `Idempotency-Key`. The library's async methods run on
an httpx client (no thread, no blocking the event loop). Network failures
and 5xx answers are ambiguous (`ProviderTimeout`): the caller leaves the
payment pending and recovery asks again with the same key. Webhooks are
verified with the library's `Stripe-Signature` check (300 s tolerance).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import stripe

from emporium.modules.payments.domain import (
    AuthorizationOutcome,
    AuthorizationResult,
    InvalidSignature,
    PaymentStatus,
    ProviderCharge,
    ProviderEvent,
    ProviderRejected,
    ProviderTimeout,
)
from emporium.platform.money import Money

WEBHOOK_TOLERANCE_SECONDS = 300
_PAYMENT_METHOD = re.compile(r"^(pm|tok|card|src)_[A-Za-z0-9_]{1,250}$")
T = TypeVar("T")

WEBHOOK_STATUSES: Mapping[str, PaymentStatus] = {
    "payment_intent.amount_capturable_updated": PaymentStatus.AUTHORIZED,
    "payment_intent.payment_failed": PaymentStatus.DECLINED,
    "payment_intent.canceled": PaymentStatus.VOIDED,
    "payment_intent.succeeded": PaymentStatus.CAPTURED,
}

INTENT_STATUSES: Mapping[str, PaymentStatus] = {
    "requires_capture": PaymentStatus.AUTHORIZED,
    "succeeded": PaymentStatus.CAPTURED,
    "canceled": PaymentStatus.VOIDED,
    "requires_payment_method": PaymentStatus.DECLINED,
    "requires_action": PaymentStatus.FAILED,  # 3-D Secure is not supported by this integration
    "requires_confirmation": PaymentStatus.FAILED,
    "processing": PaymentStatus.PENDING,
}


@dataclass(frozen=True, slots=True)
class StripeSettings:
    api_key: str | None
    api_base: str = "https://api.stripe.com"
    webhook_secret: str | None = None
    timeout: float = 30.0


class StripeProvider:
    name = "stripe"

    def __init__(self, settings: StripeSettings) -> None:
        self._settings = settings
        self._http = stripe.HTTPXClient(timeout=settings.timeout)
        self._client = stripe.StripeClient(
            settings.api_key or "sk_unconfigured",
            base_addresses={"api": settings.api_base.rstrip("/")},
            http_client=self._http,
            max_network_retries=0,  # retries are ours: recovery asks again with the same key
        )

    async def close(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]

    async def _call(self, request: Callable[[], Awaitable[T]]) -> T:
        if not self._settings.api_key:
            raise ProviderRejected("not_configured", "STRIPE_API_KEY is not set")
        try:
            return await request()
        except (stripe.APIConnectionError, stripe.RateLimitError) as error:
            raise ProviderTimeout(f"stripe: {error.user_message or error}") from error
        except stripe.APIError as error:  # 5xx: Stripe may or may not have done it
            raise ProviderTimeout(f"stripe: {error.user_message or error}") from error
        except stripe.CardError:
            raise
        except stripe.StripeError as error:
            raise ProviderRejected(str(error.code or type(error).__name__), str(error.user_message or error)) from error

    def check_token(self, card_token: str) -> str | None:
        if _PAYMENT_METHOD.match(card_token):
            return None
        return "a Stripe PaymentMethod id (pm_...) or card token (tok_...)"

    async def authorize(
        self,
        *,
        amount: Money,
        card_token: str,
        idempotency_key: str,
        reference: str | None = None,
        capture: bool = False,
    ) -> AuthorizationResult:
        params: Any = {
            "amount": amount.amount,
            "currency": amount.currency.lower(),
            "payment_method": card_token,
            "payment_method_types": ["card"],
            "capture_method": "automatic" if capture else "manual",
            "confirm": True,
            "metadata": {"emporium_key": idempotency_key, **({"payment_id": reference} if reference else {})},
        }
        try:
            intent = await self._call(
                lambda: self._client.v1.payment_intents.create_async(
                    params=params, options={"idempotency_key": idempotency_key}
                )
            )
        except stripe.CardError as error:
            body = error.error
            intent_id = getattr(getattr(body, "payment_intent", None), "id", None) if body else None
            reason = (getattr(body, "decline_code", None) or error.code or "card_declined") if body else error.code
            return AuthorizationResult(AuthorizationOutcome.DECLINED, intent_id, None, reason)
        charge = _charge(intent)
        if charge.status is PaymentStatus.CAPTURED:
            return AuthorizationResult(AuthorizationOutcome.CAPTURED, intent.id, charge.authorized or amount)
        if charge.status is PaymentStatus.AUTHORIZED:
            return AuthorizationResult(AuthorizationOutcome.AUTHORIZED, intent.id, charge.authorized or amount)
        if charge.status is PaymentStatus.DECLINED:
            return AuthorizationResult(AuthorizationOutcome.DECLINED, intent.id, None, charge.reason)
        if charge.status is PaymentStatus.PENDING:
            raise ProviderTimeout(f"stripe: PaymentIntent {intent.id} is still processing")
        return AuthorizationResult(AuthorizationOutcome.FAILED, intent.id, None, charge.reason or intent.status)

    async def capture(self, *, provider_ref: str, amount: Money, idempotency_key: str) -> None:
        await self._call(
            lambda: self._client.v1.payment_intents.capture_async(
                provider_ref, params={"amount_to_capture": amount.amount}, options={"idempotency_key": idempotency_key}
            )
        )

    async def void(self, *, provider_ref: str, idempotency_key: str) -> None:
        await self._call(
            lambda: self._client.v1.payment_intents.cancel_async(
                provider_ref, options={"idempotency_key": idempotency_key}
            )
        )

    async def refund(self, *, provider_ref: str, amount: Money, idempotency_key: str) -> str:
        created = await self._call(
            lambda: self._client.v1.refunds.create_async(
                params={"payment_intent": provider_ref, "amount": amount.amount},
                options={"idempotency_key": idempotency_key},
            )
        )
        if created.status in {"failed", "canceled"}:
            raise ProviderRejected(f"refund_{created.status}", str(created.failure_reason or created.status))
        return str(created.id)

    async def get(self, *, idempotency_key: str, provider_ref: str | None) -> ProviderCharge | None:
        if provider_ref is not None:
            intent = await self._call(lambda: self._client.v1.payment_intents.retrieve_async(provider_ref))
            return _charge(intent)
        query = f"metadata['emporium_key']:'{idempotency_key}'"
        found = await self._call(lambda: self._client.v1.payment_intents.search_async(params={"query": query}))
        return _charge(found.data[0]) if found.data else None

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> ProviderEvent:
        if not self._settings.webhook_secret:
            raise InvalidSignature("no STRIPE_WEBHOOK_SECRET is configured; Stripe webhooks cannot be verified")
        signature = {k.lower(): v for k, v in headers.items()}.get("stripe-signature")
        try:
            event = stripe.Webhook.construct_event(
                body, signature, self._settings.webhook_secret, tolerance=WEBHOOK_TOLERANCE_SECONDS
            )
        except stripe.SignatureVerificationError as error:
            raise InvalidSignature(f"the Stripe-Signature was refused: {error.user_message or error}") from None
        except ValueError:
            raise InvalidSignature("the signed body is not a Stripe event") from None
        obj = _plain(event).get("data", {}).get("object", {})
        metadata = obj.get("metadata") or {}
        status = WEBHOOK_STATUSES.get(event.type)
        amount: int | None = None
        if status is PaymentStatus.AUTHORIZED:
            amount = obj.get("amount_capturable")
        elif status is PaymentStatus.CAPTURED:
            amount = obj.get("amount_received")
        failure = obj.get("last_payment_error") or {}
        return ProviderEvent(
            event_id=str(event.id),
            event_type=str(event.type),
            payment_id=str(metadata["payment_id"]) if metadata.get("payment_id") else None,
            status=status,
            amount_minor=amount if type(amount) is int else None,
            provider_ref=str(obj["id"]) if obj.get("id") else None,
            reason=(failure.get("decline_code") or failure.get("code")) if failure else None,
        )


def _plain(obj: Any) -> dict[str, Any]:
    """A Stripe object as a plain dict (the library's objects are not dicts)."""
    data = obj.to_dict() if hasattr(obj, "to_dict") else obj
    return data if isinstance(data, dict) else {}


def _charge(stripe_intent: Any) -> ProviderCharge:
    intent = _plain(stripe_intent)
    currency = str(intent["currency"]).upper()
    status = INTENT_STATUSES.get(str(intent["status"]), PaymentStatus.FAILED)
    capturable = intent.get("amount_capturable") or 0
    received = intent.get("amount_received") or 0
    authorized = None
    if status is PaymentStatus.AUTHORIZED:
        authorized = Money(int(capturable), currency)
    elif status is PaymentStatus.CAPTURED:
        authorized = Money(int(intent["amount"]), currency)
    error = intent.get("last_payment_error") or {}
    reason = (error.get("decline_code") or error.get("code")) if error else None
    captured = Money(int(received), currency) if status is PaymentStatus.CAPTURED else None
    return ProviderCharge(str(intent["id"]), status, authorized, captured, reason)
