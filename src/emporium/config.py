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
    """A setting has a value outside its expected form; the message is one line."""

    def __init__(self, name: str, expected: str, got: str) -> None:
        super().__init__(f"{name}: expected {expected}, got {got!r}")
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


def _host() -> tuple[str, Callable[[str], str]]:
    def parse(raw: str) -> str:
        value = raw.strip()
        if not value or any(c.isspace() for c in value) or "/" in value:
            raise ValueError(raw)
        return value

    return "a host name or IP address to listen on", parse


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


def _setting(env: str, attr: str, default: str, meaning: str, kind: tuple[str, Callable[[str], Any]]) -> Setting:
    return Setting(env, attr, default, meaning, kind[0], kind[1])


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
)


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
            raise ConfigError(setting.env, setting.expected, raw) from None
    return Config(**values)
