"""Payment providers (service role: external adapters) and the registry that names them.

- `sandbox`: a test provider with its own ledger table (`sandbox.py`); always available.
- `stripe`: PaymentIntents through the official `stripe` library (`stripe_adapter.py`);
  available when `STRIPE_API_KEY` or `STRIPE_WEBHOOK_SECRET` is set.

`install(settings)` makes a registry the process default (the runtime does it
at start-up); workflows use it unless a test passes its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from emporium.modules.payments.domain import ProviderPort, UnknownProvider
from emporium.modules.payments.providers.sandbox import SandboxProvider
from emporium.modules.payments.providers.stripe_adapter import StripeProvider, StripeSettings
from emporium.platform.db.engine import Database
from emporium.platform.flags import declare, enabled

SANDBOX = "sandbox"
STRIPE = "stripe"
# Off in production (globally, or per org): new checkouts may then not name the sandbox.
SANDBOX_FLAG = declare(
    "payments.sandbox_provider",
    default=True,
    description="New payments may use the sandbox provider (test cards, no money moves).",
)


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    stripe_api_key: str | None = None
    stripe_api_base: str = "https://api.stripe.com"
    stripe_webhook_secret: str | None = None
    sandbox_webhook_secret: str | None = None
    timeout: float = 30.0


class Providers:
    """Provider adapters by name. The Stripe client is built once and reused."""

    def __init__(self, settings: ProviderSettings = ProviderSettings()) -> None:
        self.settings = settings
        self._stripe: StripeProvider | None = None
        if settings.stripe_api_key or settings.stripe_webhook_secret:
            self._stripe = StripeProvider(
                StripeSettings(
                    api_key=settings.stripe_api_key,
                    api_base=settings.stripe_api_base,
                    webhook_secret=settings.stripe_webhook_secret,
                    timeout=settings.timeout,
                )
            )

    def names(self, org_id: str | None = None) -> list[str]:
        """The providers a new payment may use; for an org, the sandbox only while its flag is on."""
        sandbox = [SANDBOX] if org_id is None or enabled(SANDBOX_FLAG, org_id) else []
        return [*sandbox, *([STRIPE] if self._stripe else [])]

    def get(self, name: str, db: Database) -> ProviderPort:
        if name == SANDBOX:
            return SandboxProvider(db, self.settings.sandbox_webhook_secret)
        if name == STRIPE and self._stripe is not None:
            return self._stripe
        raise UnknownProvider(f"no payment provider {name!r}; configured: {', '.join(self.names())}")

    async def close(self) -> None:
        if self._stripe is not None:
            await self._stripe.close()


_installed: list[Providers] = [Providers()]


def installed() -> Providers:
    return _installed[-1]


def install(providers: Providers) -> None:
    """Make `providers` the process default (until `uninstall`)."""
    _installed.append(providers)


def uninstall(providers: Providers) -> None:
    if len(_installed) > 1 and providers in _installed:
        _installed.remove(providers)
