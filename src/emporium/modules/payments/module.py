"""Payments' manifest: what the module contributes to the application (see `platform.manifest`)."""

from __future__ import annotations

from emporium.modules.payments import events, tables
from emporium.modules.payments.handlers import router
from emporium.modules.payments.metrics import PAYMENT_OUTCOMES
from emporium.modules.payments.permissions import GRANTS
from emporium.modules.payments.webhooks import router as provider_callbacks
from emporium.platform.http.shedding import Priority, RouteClass
from emporium.platform.manifest import Manifest, events_of, tables_of

MANIFEST = Manifest(
    name="payments",
    schema="payments",
    tables=tables_of(tables),
    routers=(router, provider_callbacks),
    # Providers sign these; the signature over the raw body is checked instead of a credential.
    public_routes=frozenset({("POST", "/v1/provider-webhooks/{provider}")}),
    events=events_of(events),
    permissions=GRANTS,
    metrics=(PAYMENT_OUTCOMES,),
    shedding=(
        RouteClass("/v1/payments", Priority.CRITICAL),
        # Settles money already moved: never refused for the outbox backlog.
        RouteClass("/v1/provider-webhooks", Priority.CRITICAL, backlog_exempt=True),
    ),
)
