"""What the payments workflows share: the provider lookup, a read, the provider-call error mapping."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog

from emporium.modules.payments import services as store
from emporium.modules.payments.domain import (
    Payment,
    ProviderError,
    ProviderPort,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
)
from emporium.modules.payments.providers import Providers, installed
from emporium.platform.db.engine import Database
from emporium.platform.db.transaction import transaction
from emporium.platform.errors import NotFound

log = structlog.stdlib.get_logger("emporium.payments")


def providers_of(state: object) -> Providers | None:
    """The registry a runtime put on the app's state (handlers pass it on), if any."""
    value = getattr(state, "payment_providers", None)
    return value if isinstance(value, Providers) else None


def adapter_for(db: Database, name: str, providers: Providers | None) -> ProviderPort:
    return (providers or installed()).get(name, db)


async def read_payment(db: Database, org_id: str, payment_id: str) -> Payment:
    async with transaction(db) as tx:
        payment = await store.get(tx, org_id, payment_id)
    if payment is None:
        raise NotFound(f"no payment {payment_id}")
    return payment


async def call_provider(payment: Payment, call: Callable[[str], Awaitable[object]]) -> None:
    if payment.provider_ref is None:
        raise ProviderError(f"payment {payment.id} has no provider reference")
    try:
        await call(payment.provider_ref)
    except ProviderTimeout as error:
        raise ProviderUnavailable(f"the provider did not answer; retrying is safe ({error})", retry_after=5) from error
    except ProviderRejected as error:
        raise ProviderError(f"{payment.provider} refused: {error.message}", provider_code=error.code) from error
