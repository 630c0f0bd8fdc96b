"""Settings of the process: server, database, logging."""

from __future__ import annotations

from emporium.config.forms import (
    boolean,
    choice,
    host,
    integer,
    mongodb_url,
    path,
    postgres_url,
    redis_url,
    seconds,
    sql_url,
)
from emporium.config.setting import Setting, setting

SETTINGS: tuple[Setting, ...] = (
    setting("HOST", "host", "127.0.0.1", "Address the HTTP server binds to.", host()),
    setting("PORT", "port", "8000", "TCP port of the HTTP server.", integer(1, 65535)),
    setting("WORKERS", "workers", "1", "HTTP worker processes in this instance.", integer(1, 64)),
    setting(
        "DATABASE_URL",
        "database_url",
        "",
        "PostgreSQL to use. Empty: start an embedded PostgreSQL with its data under `DATA_DIR`.",
        postgres_url(),
    ),
    setting(
        "REPORTING_DATABASE_URL",
        "reporting_database_url",
        "",
        "Where the reporting read model lives: PostgreSQL, MariaDB/MySQL (`mysql://`) or SQL Server "
        "(`mssql://`, needs `aioodbc`). Empty: the main PostgreSQL, schema `reporting`.",
        sql_url(),
        secret=True,
    ),
    setting("DATA_DIR", "data_dir", ".data", "Where the embedded PostgreSQL keeps its data.", path()),
    setting("DB_POOL_SIZE", "db_pool_size", "10", "Database connections per worker process.", integer(1, 200)),
    setting(
        "DB_POOL_TIMEOUT",
        "db_pool_timeout",
        "5",
        "Longest wait for a free database connection before the request fails with 503.",
        seconds(0.1, 120),
    ),
    setting(
        "MIGRATE_ON_START",
        "migrate_on_start",
        "true",
        "Upgrade the database schema to the newest revision when `serve` starts.",
        boolean(),
    ),
    setting(
        "SHUTDOWN_TIMEOUT",
        "shutdown_timeout",
        "15",
        "On SIGTERM/SIGINT, how long in-flight requests may take to finish before workers are stopped.",
        seconds(1, 600),
    ),
    setting(
        "LOG_LEVEL",
        "log_level",
        "info",
        "Lowest level written to the log.",
        choice("debug", "info", "warning", "error"),
    ),
    setting(
        "LOG_FORMAT",
        "log_format",
        "auto",
        "`json` (one object a line), `console` (readable), or `auto`: console on a terminal, JSON otherwise.",
        choice("auto", "json", "console"),
    ),
    setting(
        "DEMO_BOOTSTRAP",
        "demo_bootstrap",
        "false",
        "On an empty database, create a demo org and print its API key (development only; `make run` sets it).",
        boolean(),
    ),
    setting(
        "CATALOG_DATABASE_URL",
        "catalog_database_url",
        "",
        "MongoDB for the catalog's products and categories (`mongodb://host:port/db`; decision 026). "
        "Empty: they stay in PostgreSQL. Stock stays in PostgreSQL either way.",
        mongodb_url(),
    ),
    setting(
        "REDIS_URL",
        "redis_url",
        "",
        "Redis for the shared catalog cache (later locks, rate limits). Empty: in-process cache; run one instance.",
        redis_url(),
    ),
    setting(
        "CRON_ENABLED",
        "cron_enabled",
        "true",
        "Run the periodic jobs (checkout recovery, authorization expiry, key purge) in this process.",
        boolean(),
    ),
)
