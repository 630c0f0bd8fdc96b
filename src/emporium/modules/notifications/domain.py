"""Webhook endpoint rules (Standard Webhooks: `whsec_` secrets, http(s) URLs)."""

from __future__ import annotations

import base64
import re
import secrets

SECRET_PREFIX = "whsec_"  # noqa: S105 (a format prefix, not a secret)
EVENT_TYPE = re.compile(r"^(\*|[A-Z][A-Za-z]{2,63}(\.v[1-9][0-9]{0,2})?)$")


def generate_signing_secret() -> str:
    """A Standard Webhooks secret: `whsec_` + base64 of 24 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


def secret_hint(secret: str) -> str:
    return secret[: len(SECRET_PREFIX) + 4] + "…"
