"""Settings of the API request log and the operations console."""

from __future__ import annotations

from emporium.config.forms import integer, text
from emporium.config.setting import Setting, setting

SETTINGS: tuple[Setting, ...] = (
    setting(
        "API_LOG_BUFFER",
        "api_log_buffer",
        "50000",
        "Requests held in memory for the API request log before they are written; beyond it they are dropped "
        "and counted (`api_log_dropped_total`).",
        integer(100, 10_000_000),
    ),
    setting(
        "API_LOG_RETENTION_DAYS",
        "api_log_retention_days",
        "30",
        "Days the API request log keeps a request (a daily job deletes older ones).",
        integer(1, 3650),
    ),
    setting(
        "CONSOLE_SESSION_HOURS",
        "console_session_hours",
        "8",
        "Lifetime of an operations console session (`/console`).",
        integer(1, 168),
    ),
    setting(
        "CONSOLE_SECRET",
        "console_secret",
        "",
        "Signs console session cookies (at least 32 characters; the same on every replica). "
        "Empty: a random one per process, so sessions last until a restart and suit one instance only.",
        text(32),
        secret=True,
    ),
)
