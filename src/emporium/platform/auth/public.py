"""The platform's own endpoints that answer without credentials (a module lists its own in its manifest).

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
    }
)
