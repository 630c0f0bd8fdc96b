"""The process configuration: a frozen value, and the error for a setting outside its form."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

LogFormat = Literal["auto", "json", "console"]
LogLevel = Literal["debug", "info", "warning", "error"]


class ConfigError(ValueError):
    """A setting has a value outside its expected form; the message is one line (secrets are not echoed)."""

    def __init__(self, name: str, expected: str, got: str, *, secret: bool = False) -> None:
        shown = f"a hidden value of {len(got)} characters" if secret else repr(got)
        super().__init__(f"{name}: expected {expected}, got {shown}")
        self.name = name


@dataclass(frozen=True, slots=True)
class Config:
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    database_url: str | None = None
    reporting_database_url: str | None = None
    data_dir: Path = Path(".data")
    db_pool_size: int = 10
    db_pool_timeout: float = 5.0
    migrate_on_start: bool = True
    shutdown_timeout: float = 15.0
    log_level: LogLevel = "info"
    log_format: LogFormat = "auto"
    demo_bootstrap: bool = False
    redis_url: str | None = None
    catalog_database_url: str | None = None
    cron_enabled: bool = True
    max_body_bytes: int = 1_048_576
    request_timeout: float = 30.0
    shed_max_concurrent: int = 256
    shed_adaptive: bool = False
    shed_latency_target: float = 0.25
    outbox_shed_threshold: int = 50_000
    outbox_shed_age: float = 300.0
    outbox_stall_seconds: float = 60.0
    outbox_danger_threshold: int = 10_000_000
    rate_limit_per_key: float = 50.0
    api_log_buffer: int = 50_000
    api_log_retention_days: int = 30
    console_session_hours: int = 8
    console_secret: str | None = None
    rate_limit_per_org: float = 200.0
    otlp_endpoint: str | None = None
    metrics_token: str | None = None
    service_name: str = "emporium"
    trace_sql: bool = False
    order_reservation_ttl: float = 900.0
    checkout_recovery_after: float = 60.0
    checkout_recovery_interval: float = 10.0
    jwt_algorithms: tuple[str, ...] = ()
    jwt_secret: str | None = None
    jwt_jwks: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_leeway: float = 30.0
    jwt_user_claim: str = "sub"
    jwt_org_claim: str = "org_id"
    events_dispatch: bool = True
    events_batch_size: int = 100
    events_concurrency: int = 4
    events_poll_interval: float = 1.0
    events_lease: int = 30
    events_max_attempts: int = 10
    events_retry_base: float = 1.0
    events_retry_max: float = 300.0
    broker_url: str | None = None
    payment_authorization_ttl: float = 604800.0
    stripe_api_key: str | None = None
    stripe_api_base: str = "https://api.stripe.com"
    stripe_webhook_secret: str | None = None
    sandbox_webhook_secret: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = True
    email_from: str = "Emporium <no-reply@emporium.invalid>"
    sms_provider: str = "log"
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_api_base: str = "https://api.twilio.com"
    sms_from: str | None = None
    email_hourly_cap_per_org: int = 1000
    sms_hourly_cap_per_org: int = 200
    webhooks_deliver: bool = True
    webhook_allowed_hosts: tuple[str, ...] = ()
    webhook_timeout: float = 15.0
    webhook_concurrency: int = 16
    documents_storage: str = "filesystem"
    documents_s3_bucket: str | None = None
    documents_s3_region: str = "us-east-1"
    documents_s3_endpoint_url: str | None = None
    documents_s3_path_style: bool = False
    documents_s3_access_key_id: str | None = None
    documents_s3_secret_access_key: str | None = None
    documents_link_ttl: int = 300
    documents_link_secret: str | None = None

    @property
    def uses_embedded_database(self) -> bool:
        return self.database_url is None


def metrics_directory(config: Config) -> Path | None:
    """Where worker processes share Prometheus samples; None with a single worker (no sharing needed)."""
    return (config.data_dir / "metrics").resolve() if config.workers > 1 else None
