"""The one list of endpoints that answer without credentials.

Every other route's handler starts with `auth_gate`; the authorization matrix
test fails for a route that is neither gated nor listed here.
"""

from __future__ import annotations

PUBLIC_ROUTES: frozenset[tuple[str, str]] = frozenset(
    {
        ("GET", "/livez"),
        ("GET", "/readyz"),
        ("GET", "/metrics"),  # its own bearer token (METRICS_TOKEN), checked by the route: not an org credential
        ("GET", "/openapi.json"),
        ("GET", "/docs"),
        ("GET", "/docs/oauth2-redirect"),
        # Providers sign these; the signature over the raw body is checked instead of a credential.
        ("POST", "/v1/provider-webhooks/{provider}"),
    }
)
