"""The sandbox provider: a stand-in for an external payment system, with its own ledger.

It keeps its books in `payments.sandbox_ledger`, each call in its own short
transaction on its own connection (as a real provider would on its own
database), so tests can count what was really charged, captured, voided or
refunded. Like Stripe, it remembers every idempotency key: the same key gives
the same answer and never a second ledger entry.

Test card tokens: `tok_success`, `tok_decline`, `tok_insufficient_funds`,
`tok_error` (a provider error, nothing recorded) and `tok_drop` (the charge is
recorded, then the connection "drops": the first call raises `ProviderTimeout`,
a replay of the key answers normally).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import standardwebhooks
from sqlalchemy import exc as sa_exc
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

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
from emporium.modules.payments.tables import sandbox_ledger as ledger
from emporium.platform.db import standalone
from emporium.platform.db.engine import Database, is_connection_failure
from emporium.platform.ids import new_id
from emporium.platform.money import Money

ERROR_TOKEN = "tok_error"  # noqa: S105 (a test card token, not a secret)
DROP_TOKEN = "tok_drop"  # noqa: S105

TOKENS: Mapping[str, tuple[str, str | None]] = {
    "tok_success": ("authorized", None),
    "tok_drop": ("authorized", None),
    "tok_decline": ("declined", "card_declined"),
    "tok_insufficient_funds": ("declined", "insufficient_funds"),
}

WEBHOOK_STATUSES: Mapping[str, PaymentStatus] = {
    "payment.authorized": PaymentStatus.AUTHORIZED,
    "payment.declined": PaymentStatus.DECLINED,
    "payment.failed": PaymentStatus.FAILED,
    "payment.captured": PaymentStatus.CAPTURED,
    "payment.voided": PaymentStatus.VOIDED,
}


class SandboxProvider:
    name = "sandbox"

    def __init__(self, db: Database, webhook_secret: str | None = None) -> None:
        self._db = db
        self._webhook_secret = webhook_secret

    @asynccontextmanager
    async def _ledger_errors(self) -> AsyncIterator[None]:
        """The sandbox stands in for a remote provider: losing its database mid-call is a dropped
        connection to the provider, so the outcome is unknown (`ProviderTimeout`), never a crash."""
        try:
            yield
        except Exception as error:
            if is_connection_failure(error) or isinstance(error, sa_exc.InterfaceError | sa_exc.OperationalError):
                raise ProviderTimeout(f"the sandbox is unreachable ({type(error).__name__})") from error
            raise

    @asynccontextmanager
    async def _ledger(self) -> AsyncIterator[AsyncConnection]:
        """Several statements of one operation, in one transaction (a one-statement operation uses
        `standalone.one_statement`: one round trip, no BEGIN/COMMIT)."""
        async with self._ledger_errors(), standalone.transaction(self._db) as conn:
            yield conn

    # --- money-moving calls -----------------------------------------------------------------------

    def check_token(self, card_token: str) -> str | None:
        if card_token in TOKENS or card_token == ERROR_TOKEN:
            return None
        return f"the sandbox takes only its test tokens: {', '.join([*TOKENS, ERROR_TOKEN])}"

    async def authorize(
        self,
        *,
        amount: Money,
        card_token: str,
        idempotency_key: str,
        reference: str | None = None,
        capture: bool = False,
    ) -> AuthorizationResult:
        if card_token == ERROR_TOKEN:
            raise ProviderRejected("processing_error", "the sandbox failed to process the card")
        if card_token not in TOKENS:
            raise ProviderRejected("invalid_token", f"unknown sandbox card token {card_token!r}")
        outcome, reason = TOKENS[card_token]
        params = {
            "id": new_id("sbx"),
            "capture_id": new_id("sbx"),
            "key": idempotency_key,
            "charge": new_id("ch"),
            "outcome": outcome if reason is None else reason,
            "currency": amount.currency,
            "amount": amount.amount,
            "token": card_token,
            "capture": capture,
        }
        async with self._ledger_errors():
            row = (await standalone.one_statement(self._db, _AUTHORIZE, params)).one_or_none()
        if row is None:  # pragma: no cover - a twin call with this key committed after our snapshot
            raise ProviderTimeout("sandbox ledger race")
        if (row.amount, row.currency, row.card_token) != (amount.amount, amount.currency, card_token):
            raise ProviderRejected("idempotency_key_reused", "this key was used with different parameters")
        if row.fresh and card_token == DROP_TOKEN:
            raise ProviderTimeout("the connection to the sandbox dropped after the charge was made")
        return _authorization(row)

    async def capture(self, *, provider_ref: str, amount: Money, idempotency_key: str) -> None:
        async with self._ledger() as conn:
            charge = await _lock_charge(conn, provider_ref)
            if await _by_key(conn, "capture", idempotency_key) is not None:
                return
            done = await _operations(conn, provider_ref)
            if "void" in done:
                raise ProviderRejected("charge_voided", "the authorization was voided")
            if "capture" in done:
                raise ProviderRejected("charge_already_captured", "the charge was captured before")
            if amount.currency != charge.currency or amount.amount > charge.amount:
                raise ProviderRejected("amount_too_large", "the capture exceeds the authorization")
            await _write(conn, "capture", idempotency_key, provider_ref, "captured", amount)

    async def void(self, *, provider_ref: str, idempotency_key: str) -> None:
        async with self._ledger() as conn:
            charge = await _lock_charge(conn, provider_ref)
            done = await _operations(conn, provider_ref)
            if "void" in done:
                return  # voiding twice is a no-op
            if "capture" in done:
                raise ProviderRejected("charge_already_captured", "a captured charge cannot be voided")
            await _write(conn, "void", idempotency_key, provider_ref, "voided", Money(0, charge.currency))

    async def refund(self, *, provider_ref: str, amount: Money, idempotency_key: str) -> str:
        async with self._ledger() as conn:
            await _lock_charge(conn, provider_ref)
            replay = await _by_key(conn, "refund", idempotency_key)
            if replay is not None:
                return str(replay.id)
            captured = await _sum(conn, provider_ref, "capture")
            if captured is None:
                raise ProviderRejected("charge_not_captured", "only a captured charge can be refunded")
            refunded = await _sum(conn, provider_ref, "refund") or 0
            if refunded + amount.amount > captured:
                raise ProviderRejected("amount_too_large", "the refunds would exceed the capture")
            return await _write(conn, "refund", idempotency_key, provider_ref, "refunded", amount)

    async def get(self, *, idempotency_key: str, provider_ref: str | None) -> ProviderCharge | None:
        async with standalone.autocommit(self._db) as conn:
            if provider_ref is not None:
                query = select(ledger).where(ledger.c.operation == "authorize", ledger.c.charge_id == provider_ref)
                row = (await conn.execute(query)).one_or_none()
            else:
                row = await _by_key(conn, "authorize", idempotency_key)
            if row is None:
                return None
            authorized = Money(row.amount, row.currency)
            if row.outcome != "authorized":
                return ProviderCharge(row.charge_id, PaymentStatus.DECLINED, None, None, row.outcome)
            done = await _operations(conn, row.charge_id)
            captured = await _sum(conn, row.charge_id, "capture")
        if captured is not None:
            return ProviderCharge(row.charge_id, PaymentStatus.CAPTURED, authorized, Money(captured, row.currency))
        status = PaymentStatus.VOIDED if "void" in done else PaymentStatus.AUTHORIZED
        return ProviderCharge(row.charge_id, status, authorized, None)

    # --- webhooks (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature) ----------

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> ProviderEvent:
        if not self._webhook_secret:
            raise InvalidSignature("no SANDBOX_WEBHOOK_SECRET is configured; sandbox webhooks cannot be verified")
        try:
            payload: Any = standardwebhooks.Webhook(self._webhook_secret).verify(body, dict(headers))
        except (standardwebhooks.WebhookVerificationError, ValueError, json.JSONDecodeError) as error:
            raise InvalidSignature(f"the sandbox webhook was refused: {error}") from None
        event_id = {k.lower(): v for k, v in headers.items()}["webhook-id"]
        event_type = str(payload.get("type", "")) if isinstance(payload, dict) else ""
        data = payload.get("data") if isinstance(payload, dict) else None
        data = data if isinstance(data, dict) else {}
        amount = data.get("amount")
        return ProviderEvent(
            event_id=event_id,
            event_type=event_type,
            payment_id=str(data["payment_id"]) if data.get("payment_id") else None,
            status=WEBHOOK_STATUSES.get(event_type),
            amount_minor=amount if type(amount) is int else None,
            provider_ref=str(data["provider_ref"]) if data.get("provider_ref") else None,
            reason=str(data["reason"]) if data.get("reason") else None,
        )

    async def close(self) -> None:
        return None


# One statement per authorization: the charge (and, with automatic capture, its capture) is written
# once per key; a replay of the key reads what the first call wrote.
_AUTHORIZE = text(
    """
    WITH ins AS (
        INSERT INTO payments.sandbox_ledger
               (id, operation, idempotency_key, charge_id, outcome, currency, amount, card_token)
        VALUES (:id, 'authorize', :key, :charge, :outcome, :currency, :amount, :token)
        ON CONFLICT (operation, idempotency_key) DO NOTHING
        RETURNING charge_id, outcome, currency, amount, card_token
    ), cap AS (
        INSERT INTO payments.sandbox_ledger (id, operation, idempotency_key, charge_id, outcome, currency, amount)
        SELECT :capture_id, 'capture', :key || '+capture', charge_id, 'captured', currency, amount
          FROM ins WHERE ins.outcome = 'authorized' AND CAST(:capture AS boolean)
        RETURNING id
    )
    SELECT ins.*, true AS fresh, EXISTS (SELECT 1 FROM cap) AS captured FROM ins
    UNION ALL
    SELECT l.charge_id, l.outcome, l.currency, l.amount, l.card_token, false,
           EXISTS (SELECT 1 FROM payments.sandbox_ledger c WHERE c.charge_id = l.charge_id AND c.operation = 'capture')
      FROM payments.sandbox_ledger l
     WHERE l.operation = 'authorize' AND l.idempotency_key = :key AND NOT EXISTS (SELECT 1 FROM ins)
    """
)


def _authorization(row: Any) -> AuthorizationResult:
    if row.outcome == "authorized":
        outcome = AuthorizationOutcome.CAPTURED if row.captured else AuthorizationOutcome.AUTHORIZED
        return AuthorizationResult(outcome, row.charge_id, Money(row.amount, row.currency))
    return AuthorizationResult(AuthorizationOutcome.DECLINED, row.charge_id, None, row.outcome)


async def _by_key(conn: AsyncConnection, operation: str, key: str) -> Any:
    query = select(ledger).where(ledger.c.operation == operation, ledger.c.idempotency_key == key)
    return (await conn.execute(query)).one_or_none()


async def _lock_charge(conn: AsyncConnection, charge_id: str) -> Any:
    """The authorization row of a successful charge, locked: one operation per charge at a time."""
    query = (
        select(ledger)
        .where(ledger.c.operation == "authorize", ledger.c.charge_id == charge_id, ledger.c.outcome == "authorized")
        .with_for_update()
    )
    row = (await conn.execute(query)).one_or_none()
    if row is None:
        raise ProviderRejected("no_such_charge", f"the sandbox has no authorized charge {charge_id}")
    return row


async def _operations(conn: AsyncConnection, charge_id: str) -> set[str]:
    query = select(ledger.c.operation).where(ledger.c.charge_id == charge_id).distinct()
    return {str(op) for op in (await conn.execute(query)).scalars()}


async def _sum(conn: AsyncConnection, charge_id: str, operation: str) -> int | None:
    query = select(func.sum(ledger.c.amount)).where(ledger.c.charge_id == charge_id, ledger.c.operation == operation)
    value = (await conn.execute(query)).scalar()
    return int(value) if value is not None else None


async def _write(conn: AsyncConnection, operation: str, key: str, charge_id: str, outcome: str, amount: Money) -> str:
    entry_id = new_id("sbx")
    await conn.execute(
        ledger.insert().values(
            id=entry_id,
            operation=operation,
            idempotency_key=key,
            charge_id=charge_id,
            outcome=outcome,
            currency=amount.currency,
            amount=amount.amount,
        )
    )
    return entry_id
