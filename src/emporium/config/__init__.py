"""The process configuration: a frozen value built from a mapping of strings.

Only `emporium.main` passes the real environment in; everything else receives a
`Config`. Each setting is declared once in `SETTINGS` (name, default, expected
form, meaning), which drives parsing, the error message for a bad value and the
README's table (a test keeps the two in step).

A package: `values` (the `Config` value), `forms` (how a value is parsed),
and one module of settings per concern, gathered here in one table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from emporium.config import (
    authentication,
    commerce,
    documents,
    edge,
    events,
    notifications,
    operations,
    process,
    telemetry,
)
from emporium.config.setting import Setting
from emporium.config.values import Config, ConfigError, LogFormat, LogLevel, metrics_directory

__all__ = ["SETTINGS", "Config", "ConfigError", "LogFormat", "LogLevel", "Setting", "load_config", "metrics_directory"]

SETTINGS: tuple[Setting, ...] = (
    *process.SETTINGS,
    *telemetry.SETTINGS,
    *edge.SETTINGS,
    *authentication.SETTINGS,
    *events.SETTINGS,
    *commerce.SETTINGS,
    *notifications.SETTINGS,
    *documents.SETTINGS,
    *operations.SETTINGS,
)


def _check_jwt(config: Config) -> None:
    if not config.jwt_algorithms:
        return
    for env, value in (("JWT_ISSUER", config.jwt_issuer), ("JWT_AUDIENCE", config.jwt_audience)):
        if not value:
            raise ConfigError(env, "a value when JWT_ALGORITHMS is set", "")
    if config.jwt_algorithms[0].startswith("HS"):
        if not config.jwt_secret:
            raise ConfigError("JWT_SECRET", "a secret of at least 32 characters for HS* algorithms", "")
    elif not config.jwt_jwks:
        raise ConfigError("JWT_JWKS", "a JWKS file path or URL for RS*/ES* algorithms", "")


def _check_sms(config: Config) -> None:
    if config.sms_provider != "twilio":
        return
    for env, value in (
        ("TWILIO_ACCOUNT_SID", config.twilio_account_sid),
        ("TWILIO_AUTH_TOKEN", config.twilio_auth_token),
        ("SMS_FROM", config.sms_from),
    ):
        if not value:
            raise ConfigError(env, "a value when SMS_PROVIDER=twilio", "")


def load_config(environ: Mapping[str, str]) -> Config:
    """Build a `Config` from `environ`; an empty value means the default."""
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = environ.get(setting.env, "")
        if raw == "":
            continue
        try:
            values[setting.attr] = setting.parse(raw)
        except ValueError:
            raise ConfigError(setting.env, setting.expected, raw, secret=setting.secret) from None
    config = Config(**values)
    _check_jwt(config)
    _check_sms(config)
    if config.documents_storage == "s3" and not config.documents_s3_bucket:
        raise ConfigError("DOCUMENTS_S3_BUCKET", "a bucket name when DOCUMENTS_STORAGE=s3", "")
    return config
