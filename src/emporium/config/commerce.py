"""Settings of orders and payments: reservations, checkout recovery, providers."""

from __future__ import annotations

from emporium.config.forms import http_url, prefixed_secret, seconds, text
from emporium.config.setting import Setting, setting

SETTINGS: tuple[Setting, ...] = (
    setting(
        "ORDER_RESERVATION_TTL",
        "order_reservation_ttl",
        "900",
        "Seconds an unpaid order holds its stock; then it is cancelled and the stock released.",
        seconds(10, 86_400),
    ),
    setting(
        "CHECKOUT_RECOVERY_AFTER",
        "checkout_recovery_after",
        "60",
        "Seconds after which a checkout whose payment outcome is unknown is settled by asking the provider.",
        seconds(1, 3_600),
    ),
    setting(
        "CHECKOUT_RECOVERY_INTERVAL",
        "checkout_recovery_interval",
        "10",
        "Seconds between recovery passes over stuck checkouts (one pass per interval across all replicas).",
        seconds(1, 3_600),
    ),
    setting(
        "PAYMENT_AUTHORIZATION_TTL",
        "payment_authorization_ttl",
        "604800",
        "Age in seconds after which an uncaptured card authorization is voided (and its order cancelled); 7 days.",
        seconds(60, 2_592_000),
    ),
    setting(
        "STRIPE_API_KEY",
        "stripe_api_key",
        "",
        "Stripe secret key (`sk_...`/`rk_...`). Empty: the `stripe` provider cannot move money.",
        text(8),
        secret=True,
    ),
    setting(
        "STRIPE_API_BASE",
        "stripe_api_base",
        "https://api.stripe.com",
        "Base URL of the Stripe API (point it at a stub in tests).",
        http_url(),
    ),
    setting(
        "STRIPE_WEBHOOK_SECRET",
        "stripe_webhook_secret",
        "",
        "Signing secret (`whsec_...`) of the Stripe webhook endpoint `/v1/provider-webhooks/stripe`.",
        prefixed_secret("whsec_", 16),
        secret=True,
    ),
    setting(
        "SANDBOX_WEBHOOK_SECRET",
        "sandbox_webhook_secret",
        "",
        "Standard Webhooks secret (`whsec_` + base64) for `/v1/provider-webhooks/sandbox`. "
        "Empty: sandbox webhooks are refused.",
        prefixed_secret("whsec_", 16),
        secret=True,
    ),
)
