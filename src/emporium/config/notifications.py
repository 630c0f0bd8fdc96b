"""Settings of notifications: email, text messages, webhooks."""

from __future__ import annotations

from emporium.config.forms import boolean, choice, email_from, host, host_list, http_url, integer, seconds, text
from emporium.config.setting import Setting, setting

SETTINGS: tuple[Setting, ...] = (
    setting(
        "SMTP_HOST",
        "smtp_host",
        "",
        "SMTP server for notification emails. Empty: emails are written to the log (development).",
        host(),
    ),
    setting("SMTP_PORT", "smtp_port", "587", "Port of the SMTP server.", integer(1, 65535)),
    setting("SMTP_USERNAME", "smtp_username", "", "SMTP login (empty: no authentication).", text()),
    setting("SMTP_PASSWORD", "smtp_password", "", "SMTP password.", text(), secret=True),
    setting(
        "SMTP_STARTTLS",
        "smtp_starttls",
        "true",
        "Upgrade the SMTP connection with STARTTLS (false only for a local relay or a test server).",
        boolean(),
    ),
    setting(
        "EMAIL_FROM",
        "email_from",
        "Emporium <no-reply@emporium.invalid>",
        "Sender of notification emails.",
        email_from(),
    ),
    setting(
        "SMS_PROVIDER",
        "sms_provider",
        "log",
        "`twilio` (a Twilio-compatible HTTP API) or `log` (texts are written to the log; development).",
        choice("log", "twilio"),
    ),
    setting("TWILIO_ACCOUNT_SID", "twilio_account_sid", "", "Twilio account SID (`AC...`).", text()),
    setting("TWILIO_AUTH_TOKEN", "twilio_auth_token", "", "Twilio auth token.", text(), secret=True),
    setting(
        "TWILIO_API_BASE",
        "twilio_api_base",
        "https://api.twilio.com",
        "Base URL of the Twilio-compatible API (point it at a stub in tests).",
        http_url(),
    ),
    setting("SMS_FROM", "sms_from", "", "Sender number or id of text messages, e.g. `+15005550006`.", text()),
    setting(
        "EMAIL_HOURLY_CAP_PER_ORG",
        "email_hourly_cap_per_org",
        "1000",
        "Notification emails one org may send per clock hour (counted in PostgreSQL); beyond it they are skipped.",
        integer(0, 10_000_000),
    ),
    setting(
        "SMS_HOURLY_CAP_PER_ORG",
        "sms_hourly_cap_per_org",
        "200",
        "Text messages one org may send per clock hour (counted in PostgreSQL); beyond it they are skipped.",
        integer(0, 10_000_000),
    ),
    setting(
        "WEBHOOKS_DELIVER",
        "webhooks_deliver",
        "true",
        "Run the webhook delivery worker inside `serve` (and `emporium worker`).",
        boolean(),
    ),
    setting(
        "WEBHOOK_ALLOWED_HOSTS",
        "webhook_allowed_hosts",
        "",
        "Hosts exempt from the SSRF guard, e.g. `127.0.0.1,localhost` for local receivers. Empty: only public "
        "addresses are reachable.",
        host_list(),
    ),
    setting("WEBHOOK_TIMEOUT", "webhook_timeout", "15", "Timeout of one webhook request, in seconds.", seconds(1, 60)),
    setting(
        "WEBHOOK_CONCURRENCY",
        "webhook_concurrency",
        "16",
        "Webhook requests one delivery worker has in flight at once.",
        integer(1, 256),
    ),
)
