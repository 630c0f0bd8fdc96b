"""Settings of JWT authentication."""

from __future__ import annotations

from emporium.config.forms import algorithms, claim, seconds, text
from emporium.config.setting import Setting, setting

SETTINGS: tuple[Setting, ...] = (
    setting(
        "JWT_ALGORITHMS",
        "jwt_algorithms",
        "",
        "Accepted JWT algorithms, e.g. `HS256` or `RS256,ES256`. Empty: only API keys authenticate.",
        algorithms(),
    ),
    setting(
        "JWT_SECRET", "jwt_secret", "", "Shared secret for HS* tokens (at least 32 characters).", text(32), secret=True
    ),
    setting("JWT_JWKS", "jwt_jwks", "", "JWKS for RS*/ES* tokens: a file path or an https:// URL.", text()),
    setting(
        "JWT_ISSUER", "jwt_issuer", "", "Required `iss` of accepted tokens (required with JWT_ALGORITHMS).", text()
    ),
    setting(
        "JWT_AUDIENCE", "jwt_audience", "", "Required `aud` of accepted tokens (required with JWT_ALGORITHMS).", text()
    ),
    setting("JWT_LEEWAY", "jwt_leeway", "30", "Clock skew allowed on `exp` and `nbf`, in seconds.", seconds(0, 300)),
    setting("JWT_USER_CLAIM", "jwt_user_claim", "sub", "Claim holding the user's id (`usr_…`) or email.", claim()),
    setting("JWT_ORG_CLAIM", "jwt_org_claim", "org_id", "Claim holding the org id (`org_…`).", claim()),
)
