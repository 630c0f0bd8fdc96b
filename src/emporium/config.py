"""The process configuration: a frozen value built from a mapping of strings.

Only `emporium.main` passes the real environment in; everything else receives a
`Config`. Each setting is declared once in `SETTINGS` (name, default, expected
form, meaning), which drives parsing, the error message for a bad value and the
README's table (a test keeps the two in step).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

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
    data_dir: Path = Path(".data")
    db_pool_size: int = 10
    db_pool_timeout: float = 5.0
    migrate_on_start: bool = True
    shutdown_timeout: float = 15.0
    log_level: LogLevel = "info"
    log_format: LogFormat = "auto"
    demo_bootstrap: bool = False
    redis_url: str | None = None
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

    @property
    def uses_embedded_database(self) -> bool:
        return self.database_url is None


def _integer(low: int, high: int) -> tuple[str, Callable[[str], int]]:
    def parse(raw: str) -> int:
        value = int(raw.strip())
        if not low <= value <= high:
            raise ValueError(raw)
        return value

    return f"an integer from {low} to {high}", parse


def _seconds(low: float, high: float) -> tuple[str, Callable[[str], float]]:
    def parse(raw: str) -> float:
        value = float(raw.strip())
        if math.isnan(value) or not low <= value <= high:
            raise ValueError(raw)
        return value

    return f"a number of seconds from {low:g} to {high:g}", parse


def _boolean() -> tuple[str, Callable[[str], bool]]:
    truthy, falsy = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}

    def parse(raw: str) -> bool:
        lowered = raw.strip().lower()
        if lowered in truthy:
            return True
        if lowered in falsy:
            return False
        raise ValueError(raw)

    return "one of true/false, 1/0, yes/no, on/off", parse


def _choice(*options: str) -> tuple[str, Callable[[str], str]]:
    def parse(raw: str) -> str:
        lowered = raw.strip().lower()
        if lowered not in options:
            raise ValueError(raw)
        return lowered

    return "one of " + ", ".join(options), parse


def _postgres_url() -> tuple[str, Callable[[str], str]]:
    def parse(raw: str) -> str:
        parts = urlsplit(raw.strip())
        if parts.scheme not in {"postgresql", "postgres", "postgresql+asyncpg"}:
            raise ValueError(raw)
        if not (parts.hostname or "host=" in parts.query):
            raise ValueError(raw)
        return raw.strip()

    return "a postgresql://user@host:port/database URL", parse


def _redis_url() -> tuple[str, Callable[[str], str]]:
    def parse(raw: str) -> str:
        parts = urlsplit(raw.strip())
        if parts.scheme not in {"redis", "rediss", "unix"} or not (parts.hostname or parts.path):
            raise ValueError(raw)
        return raw.strip()

    return "a redis://host:port/db URL", parse


def _host() -> tuple[str, Callable[[str], str]]:
    def parse(raw: str) -> str:
        value = raw.strip()
        if not value or any(c.isspace() for c in value) or "/" in value:
            raise ValueError(raw)
        return value

    return "a host name or IP address to listen on", parse


def _algorithms() -> tuple[str, Callable[[str], tuple[str, ...]]]:
    known = ("HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "ES512", "EdDSA")

    def parse(raw: str) -> tuple[str, ...]:
        names = tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
        if not names or any(n not in known for n in names):
            raise ValueError(raw)
        hmac = {n for n in names if n.startswith("HS")}
        if hmac and len(hmac) != len(names):
            raise ValueError(raw)  # mixing HMAC and public-key algorithms invites key confusion
        return names

    return "a comma-separated list of JWT algorithms (HS256... or RS256/ES256..., not both)", parse


def _nats_url() -> tuple[str, Callable[[str], str]]:
    def parse(raw: str) -> str:
        value = raw.strip()
        for server in value.split(","):
            parts = urlsplit(server.strip())
            if parts.scheme not in {"nats", "tls"} or not parts.hostname:
                raise ValueError(raw)
        return value

    return "a nats://host:port URL (several separated by commas)", parse


def _http_url() -> tuple[str, Callable[[str], str]]:
    def parse(raw: str) -> str:
        parts = urlsplit(raw.strip())
        if parts.scheme not in {"http", "https"} or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(raw)
        return raw.strip().rstrip("/")

    return "an http(s)://host[:port] URL", parse


def _prefixed_secret(prefix: str, min_length: int) -> tuple[str, Callable[[str], str]]:
    def parse(raw: str) -> str:
        value = raw.strip()
        if not value.startswith(prefix) or len(value) < min_length or any(c.isspace() for c in value):
            raise ValueError(raw)
        return value

    return f"a secret starting with {prefix!r} (at least {min_length} characters)", parse


def _text(min_length: int = 1) -> tuple[str, Callable[[str], str]]:
    def parse(raw: str) -> str:
        if len(raw.strip()) < min_length:
            raise ValueError(raw)
        return raw.strip()

    return f"text of at least {min_length} characters", parse


def _host_list() -> tuple[str, Callable[[str], tuple[str, ...]]]:
    def parse(raw: str) -> tuple[str, ...]:
        hosts = tuple(dict.fromkeys(part.strip().lower() for part in raw.split(",") if part.strip()))
        if not hosts or any(any(c.isspace() or c in "/@?#" for c in h) for h in hosts):
            raise ValueError(raw)
        return hosts

    return "a comma-separated list of host names or IP addresses", parse


def _email_from() -> tuple[str, Callable[[str], str]]:
    def parse(raw: str) -> str:
        value = raw.strip()
        if "@" not in value or "\n" in value or "\r" in value:
            raise ValueError(raw)
        return value

    return "an email address, optionally with a name: `Shop <shop@example.com>`", parse


def _claim() -> tuple[str, Callable[[str], str]]:
    def parse(raw: str) -> str:
        value = raw.strip()
        if not value or not all(c.isalnum() or c in "_-.:/" for c in value):
            raise ValueError(raw)
        return value

    return "a JWT claim name", parse


def _path() -> tuple[str, Callable[[str], Path]]:
    def parse(raw: str) -> Path:
        if not raw.strip():
            raise ValueError(raw)
        return Path(raw.strip())

    return "a directory path", parse


@dataclass(frozen=True, slots=True)
class Setting:
    env: str
    attr: str
    default: str
    meaning: str
    expected: str
    parse: Callable[[str], Any]
    secret: bool = False


def _setting(
    env: str, attr: str, default: str, meaning: str, kind: tuple[str, Callable[[str], Any]], *, secret: bool = False
) -> Setting:
    return Setting(env, attr, default, meaning, kind[0], kind[1], secret)


SETTINGS: tuple[Setting, ...] = (
    _setting("HOST", "host", "127.0.0.1", "Address the HTTP server binds to.", _host()),
    _setting("PORT", "port", "8000", "TCP port of the HTTP server.", _integer(1, 65535)),
    _setting("WORKERS", "workers", "1", "HTTP worker processes in this instance.", _integer(1, 64)),
    _setting(
        "DATABASE_URL",
        "database_url",
        "",
        "PostgreSQL to use. Empty: start an embedded PostgreSQL with its data under `DATA_DIR`.",
        _postgres_url(),
    ),
    _setting("DATA_DIR", "data_dir", ".data", "Where the embedded PostgreSQL keeps its data.", _path()),
    _setting("DB_POOL_SIZE", "db_pool_size", "10", "Database connections per worker process.", _integer(1, 200)),
    _setting(
        "DB_POOL_TIMEOUT",
        "db_pool_timeout",
        "5",
        "Longest wait for a free database connection before the request fails with 503.",
        _seconds(0.1, 120),
    ),
    _setting(
        "MIGRATE_ON_START",
        "migrate_on_start",
        "true",
        "Upgrade the database schema to the newest revision when `serve` starts.",
        _boolean(),
    ),
    _setting(
        "SHUTDOWN_TIMEOUT",
        "shutdown_timeout",
        "15",
        "On SIGTERM/SIGINT, how long in-flight requests may take to finish before workers are stopped.",
        _seconds(1, 600),
    ),
    _setting(
        "LOG_LEVEL",
        "log_level",
        "info",
        "Lowest level written to the log.",
        _choice("debug", "info", "warning", "error"),
    ),
    _setting(
        "LOG_FORMAT",
        "log_format",
        "auto",
        "`json` (one object a line), `console` (readable), or `auto`: console on a terminal, JSON otherwise.",
        _choice("auto", "json", "console"),
    ),
    _setting(
        "DEMO_BOOTSTRAP",
        "demo_bootstrap",
        "false",
        "On an empty database, create a demo org and print its API key (development only; `make run` sets it).",
        _boolean(),
    ),
    _setting(
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "otlp_endpoint",
        "",
        "OTLP/HTTP endpoint for traces, e.g. http://collector:4318/v1/traces. Empty: spans are not exported.",
        _http_url(),
    ),
    _setting("OTEL_SERVICE_NAME", "service_name", "emporium", "The service name traces carry.", _claim()),
    _setting(
        "TRACE_SQL",
        "trace_sql",
        "false",
        "A span per SQL statement (spans are recorded only with an exporter). Off: spans per request, workflow,"
        " service and outgoing call.",
        _boolean(),
    ),
    _setting(
        "MAX_BODY_BYTES",
        "max_body_bytes",
        "1048576",
        "Largest request body; above it: 413.",
        _integer(1024, 64 * 1048576),
    ),
    _setting(
        "REQUEST_TIMEOUT",
        "request_timeout",
        "30",
        "A request still running after this many seconds is cancelled and answered 503.",
        _seconds(1, 600),
    ),
    _setting(
        "SHED_MAX_CONCURRENT",
        "shed_max_concurrent",
        "256",
        "Concurrent requests per worker before load is shed with 503 (catalog browsing first, checkout last).",
        _integer(1, 100_000),
    ),
    _setting(
        "SHED_ADAPTIVE",
        "shed_adaptive",
        "false",
        "Let the concurrency limit follow observed latency (shrinks above SHED_LATENCY_TARGET).",
        _boolean(),
    ),
    _setting(
        "SHED_LATENCY_TARGET",
        "shed_latency_target",
        "0.25",
        "Adaptive shedding: the p90 latency, in seconds, above which the limit shrinks.",
        _seconds(0.001, 60),
    ),
    _setting(
        "OUTBOX_SHED_THRESHOLD",
        "outbox_shed_threshold",
        "50000",
        "Undelivered events (estimated) that make a backlog: catalog browsing is shed with 503 (decision 018).",
        _integer(1, 100_000_000),
    ),
    _setting(
        "OUTBOX_SHED_AGE",
        "outbox_shed_age",
        "300",
        "Seconds the oldest undelivered event may wait before it makes a backlog (as OUTBOX_SHED_THRESHOLD).",
        _seconds(1, 86_400),
    ),
    _setting(
        "OUTBOX_STALL_SECONDS",
        "outbox_stall_seconds",
        "60",
        "A backlog nothing has been delivered from for this long means consumers are gone: "
        "non-critical writes are shed too; checkout never is.",
        _seconds(0, 86_400),
    ),
    _setting(
        "OUTBOX_DANGER_THRESHOLD",
        "outbox_danger_threshold",
        "10000000",
        "Undelivered events (estimated) at which the database itself is at risk: checkout and payments are shed too.",
        _integer(1, 1_000_000_000),
    ),
    _setting(
        "RATE_LIMIT_PER_KEY",
        "rate_limit_per_key",
        "50",
        "Requests per second per API key or user (bursts of twice that); over it: 429.",
        _seconds(0.1, 1_000_000),
    ),
    _setting(
        "RATE_LIMIT_PER_ORG",
        "rate_limit_per_org",
        "200",
        "Requests per second per org, all its keys and users together (bursts of twice that).",
        _seconds(0.1, 1_000_000),
    ),
    _setting(
        "CRON_ENABLED",
        "cron_enabled",
        "true",
        "Run the periodic jobs (checkout recovery, authorization expiry, key purge) in this process.",
        _boolean(),
    ),
    _setting(
        "ORDER_RESERVATION_TTL",
        "order_reservation_ttl",
        "900",
        "Seconds an unpaid order holds its stock; then it is cancelled and the stock released.",
        _seconds(10, 86_400),
    ),
    _setting(
        "CHECKOUT_RECOVERY_AFTER",
        "checkout_recovery_after",
        "60",
        "Seconds after which a checkout whose payment outcome is unknown is settled by asking the provider.",
        _seconds(1, 3_600),
    ),
    _setting(
        "CHECKOUT_RECOVERY_INTERVAL",
        "checkout_recovery_interval",
        "10",
        "Seconds between recovery passes over stuck checkouts (one pass per interval across all replicas).",
        _seconds(1, 3_600),
    ),
    _setting(
        "REDIS_URL",
        "redis_url",
        "",
        "Redis for the shared catalog cache (later locks, rate limits). Empty: in-process cache; run one instance.",
        _redis_url(),
    ),
    _setting(
        "JWT_ALGORITHMS",
        "jwt_algorithms",
        "",
        "Accepted JWT algorithms, e.g. `HS256` or `RS256,ES256`. Empty: only API keys authenticate.",
        _algorithms(),
    ),
    _setting(
        "JWT_SECRET", "jwt_secret", "", "Shared secret for HS* tokens (at least 32 characters).", _text(32), secret=True
    ),
    _setting("JWT_JWKS", "jwt_jwks", "", "JWKS for RS*/ES* tokens: a file path or an https:// URL.", _text()),
    _setting(
        "JWT_ISSUER", "jwt_issuer", "", "Required `iss` of accepted tokens (required with JWT_ALGORITHMS).", _text()
    ),
    _setting(
        "JWT_AUDIENCE", "jwt_audience", "", "Required `aud` of accepted tokens (required with JWT_ALGORITHMS).", _text()
    ),
    _setting("JWT_LEEWAY", "jwt_leeway", "30", "Clock skew allowed on `exp` and `nbf`, in seconds.", _seconds(0, 300)),
    _setting("JWT_USER_CLAIM", "jwt_user_claim", "sub", "Claim holding the user's id (`usr_…`) or email.", _claim()),
    _setting("JWT_ORG_CLAIM", "jwt_org_claim", "org_id", "Claim holding the org id (`org_…`).", _claim()),
    _setting(
        "EVENTS_DISPATCH",
        "events_dispatch",
        "true",
        "Run the event dispatcher inside `serve` (false: only `emporium worker` processes deliver events).",
        _boolean(),
    ),
    _setting(
        "EVENTS_BATCH_SIZE",
        "events_batch_size",
        "100",
        "Outbox events a dispatcher claims at a time.",
        _integer(1, 1000),
    ),
    _setting(
        "EVENTS_CONCURRENCY",
        "events_concurrency",
        "4",
        "Events (of different aggregates) a dispatcher hands to subscribers at once.",
        _integer(1, 64),
    ),
    _setting(
        "EVENTS_POLL_INTERVAL",
        "events_poll_interval",
        "1",
        "Longest sleep of an idle dispatcher (it also wakes on NOTIFY at each publish).",
        _seconds(0.05, 60),
    ),
    _setting(
        "EVENTS_LEASE",
        "events_lease",
        "30",
        "Seconds a claim holds its events; a crashed dispatcher's events are taken over after it.",
        _integer(2, 3600),
    ),
    _setting(
        "EVENTS_MAX_ATTEMPTS",
        "events_max_attempts",
        "10",
        "Deliveries of an event to a failing consumer before it goes to the dead-letter table.",
        _integer(1, 100),
    ),
    _setting(
        "EVENTS_RETRY_BASE",
        "events_retry_base",
        "1",
        "Delay before the first retry; it doubles with each attempt (with jitter).",
        _seconds(0.01, 3600),
    ),
    _setting(
        "EVENTS_RETRY_MAX", "events_retry_max", "300", "Longest delay between two retries.", _seconds(0.01, 86400)
    ),
    _setting(
        "BROKER_URL",
        "broker_url",
        "",
        "NATS JetStream for events that leave the process, e.g. `nats://127.0.0.1:4222`. "
        "Empty: events are delivered in-process from the outbox.",
        _nats_url(),
    ),
    _setting(
        "PAYMENT_AUTHORIZATION_TTL",
        "payment_authorization_ttl",
        "604800",
        "Age in seconds after which an uncaptured card authorization is voided (and its order cancelled); 7 days.",
        _seconds(60, 2_592_000),
    ),
    _setting(
        "STRIPE_API_KEY",
        "stripe_api_key",
        "",
        "Stripe secret key (`sk_...`/`rk_...`). Empty: the `stripe` provider cannot move money.",
        _text(8),
        secret=True,
    ),
    _setting(
        "STRIPE_API_BASE",
        "stripe_api_base",
        "https://api.stripe.com",
        "Base URL of the Stripe API (point it at a stub in tests).",
        _http_url(),
    ),
    _setting(
        "STRIPE_WEBHOOK_SECRET",
        "stripe_webhook_secret",
        "",
        "Signing secret (`whsec_...`) of the Stripe webhook endpoint `/v1/provider-webhooks/stripe`.",
        _prefixed_secret("whsec_", 16),
        secret=True,
    ),
    _setting(
        "METRICS_TOKEN",
        "metrics_token",
        "",
        "Bearer token Prometheus sends to scrape `/metrics` (`Authorization: Bearer <token>`). "
        "Empty: `/metrics` answers 404 (its counters span every org, so it is never public).",
        _text(16),
        secret=True,
    ),
    _setting(
        "SANDBOX_WEBHOOK_SECRET",
        "sandbox_webhook_secret",
        "",
        "Standard Webhooks secret (`whsec_` + base64) for `/v1/provider-webhooks/sandbox`. "
        "Empty: sandbox webhooks are refused.",
        _prefixed_secret("whsec_", 16),
        secret=True,
    ),
    _setting(
        "SMTP_HOST",
        "smtp_host",
        "",
        "SMTP server for notification emails. Empty: emails are written to the log (development).",
        _host(),
    ),
    _setting("SMTP_PORT", "smtp_port", "587", "Port of the SMTP server.", _integer(1, 65535)),
    _setting("SMTP_USERNAME", "smtp_username", "", "SMTP login (empty: no authentication).", _text()),
    _setting("SMTP_PASSWORD", "smtp_password", "", "SMTP password.", _text(), secret=True),
    _setting(
        "SMTP_STARTTLS",
        "smtp_starttls",
        "true",
        "Upgrade the SMTP connection with STARTTLS (false only for a local relay or a test server).",
        _boolean(),
    ),
    _setting(
        "EMAIL_FROM",
        "email_from",
        "Emporium <no-reply@emporium.invalid>",
        "Sender of notification emails.",
        _email_from(),
    ),
    _setting(
        "SMS_PROVIDER",
        "sms_provider",
        "log",
        "`twilio` (a Twilio-compatible HTTP API) or `log` (texts are written to the log; development).",
        _choice("log", "twilio"),
    ),
    _setting("TWILIO_ACCOUNT_SID", "twilio_account_sid", "", "Twilio account SID (`AC...`).", _text()),
    _setting("TWILIO_AUTH_TOKEN", "twilio_auth_token", "", "Twilio auth token.", _text(), secret=True),
    _setting(
        "TWILIO_API_BASE",
        "twilio_api_base",
        "https://api.twilio.com",
        "Base URL of the Twilio-compatible API (point it at a stub in tests).",
        _http_url(),
    ),
    _setting("SMS_FROM", "sms_from", "", "Sender number or id of text messages, e.g. `+15005550006`.", _text()),
    _setting(
        "EMAIL_HOURLY_CAP_PER_ORG",
        "email_hourly_cap_per_org",
        "1000",
        "Notification emails one org may send per clock hour (counted in PostgreSQL); beyond it they are skipped.",
        _integer(0, 10_000_000),
    ),
    _setting(
        "SMS_HOURLY_CAP_PER_ORG",
        "sms_hourly_cap_per_org",
        "200",
        "Text messages one org may send per clock hour (counted in PostgreSQL); beyond it they are skipped.",
        _integer(0, 10_000_000),
    ),
    _setting(
        "WEBHOOKS_DELIVER",
        "webhooks_deliver",
        "true",
        "Run the webhook delivery worker inside `serve` (and `emporium worker`).",
        _boolean(),
    ),
    _setting(
        "WEBHOOK_ALLOWED_HOSTS",
        "webhook_allowed_hosts",
        "",
        "Hosts exempt from the SSRF guard, e.g. `127.0.0.1,localhost` for local receivers. Empty: only public "
        "addresses are reachable.",
        _host_list(),
    ),
    _setting(
        "WEBHOOK_TIMEOUT", "webhook_timeout", "15", "Timeout of one webhook request, in seconds.", _seconds(1, 60)
    ),
    _setting(
        "WEBHOOK_CONCURRENCY",
        "webhook_concurrency",
        "16",
        "Webhook requests one delivery worker has in flight at once.",
        _integer(1, 256),
    ),
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


def metrics_directory(config: Config) -> Path | None:
    """Where worker processes share Prometheus samples; None with a single worker (no sharing needed)."""
    return (config.data_dir / "metrics").resolve() if config.workers > 1 else None


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
    return config
