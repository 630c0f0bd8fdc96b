"""The forms a setting's value may take: each returns (what is expected, in words; the parser)."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit


def integer(low: int, high: int) -> tuple[str, Callable[[str], int]]:
    def parse(raw: str) -> int:
        value = int(raw.strip())
        if not low <= value <= high:
            raise ValueError(raw)
        return value

    return f"an integer from {low} to {high}", parse


def seconds(low: float, high: float) -> tuple[str, Callable[[str], float]]:
    def parse(raw: str) -> float:
        value = float(raw.strip())
        if math.isnan(value) or not low <= value <= high:
            raise ValueError(raw)
        return value

    return f"a number of seconds from {low:g} to {high:g}", parse


def boolean() -> tuple[str, Callable[[str], bool]]:
    truthy, falsy = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}

    def parse(raw: str) -> bool:
        lowered = raw.strip().lower()
        if lowered in truthy:
            return True
        if lowered in falsy:
            return False
        raise ValueError(raw)

    return "one of true/false, 1/0, yes/no, on/off", parse


def choice(*options: str) -> tuple[str, Callable[[str], str]]:
    def parse(raw: str) -> str:
        lowered = raw.strip().lower()
        if lowered not in options:
            raise ValueError(raw)
        return lowered

    return "one of " + ", ".join(options), parse


def postgres_url() -> tuple[str, Callable[[str], str]]:
    def parse(raw: str) -> str:
        parts = urlsplit(raw.strip())
        if parts.scheme not in {"postgresql", "postgres", "postgresql+asyncpg"}:
            raise ValueError(raw)
        if not (parts.hostname or "host=" in parts.query):
            raise ValueError(raw)
        return raw.strip()

    return "a postgresql://user@host:port/database URL", parse


def sql_url() -> tuple[str, Callable[[str], str]]:
    kinds = {"postgresql", "postgres", "mysql", "mariadb", "mssql"}

    def parse(raw: str) -> str:
        parts = urlsplit(raw.strip())
        if parts.scheme.split("+", 1)[0] not in kinds or not (parts.hostname or "host=" in parts.query):
            raise ValueError(raw)
        return raw.strip()

    return "a postgresql://, mysql:// (MariaDB too) or mssql:// URL", parse


def redis_url() -> tuple[str, Callable[[str], str]]:
    def parse(raw: str) -> str:
        parts = urlsplit(raw.strip())
        if parts.scheme not in {"redis", "rediss", "unix"} or not (parts.hostname or parts.path):
            raise ValueError(raw)
        return raw.strip()

    return "a redis://host:port/db URL", parse


def mongodb_url() -> tuple[str, Callable[[str], str]]:
    def parse(raw: str) -> str:
        parts = urlsplit(raw.strip())
        if parts.scheme not in {"mongodb", "mongodb+srv"} or not parts.netloc:
            raise ValueError(raw)
        return raw.strip()

    return "a mongodb://host:port/database URL", parse


def host() -> tuple[str, Callable[[str], str]]:
    def parse(raw: str) -> str:
        value = raw.strip()
        if not value or any(c.isspace() for c in value) or "/" in value:
            raise ValueError(raw)
        return value

    return "a host name or IP address to listen on", parse


def algorithms() -> tuple[str, Callable[[str], tuple[str, ...]]]:
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


def nats_url() -> tuple[str, Callable[[str], str]]:
    def parse(raw: str) -> str:
        value = raw.strip()
        for server in value.split(","):
            parts = urlsplit(server.strip())
            if parts.scheme not in {"nats", "tls"} or not parts.hostname:
                raise ValueError(raw)
        return value

    return "a nats://host:port URL (several separated by commas)", parse


def http_url() -> tuple[str, Callable[[str], str]]:
    def parse(raw: str) -> str:
        parts = urlsplit(raw.strip())
        if parts.scheme not in {"http", "https"} or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(raw)
        return raw.strip().rstrip("/")

    return "an http(s)://host[:port] URL", parse


def prefixed_secret(prefix: str, min_length: int) -> tuple[str, Callable[[str], str]]:
    def parse(raw: str) -> str:
        value = raw.strip()
        if not value.startswith(prefix) or len(value) < min_length or any(c.isspace() for c in value):
            raise ValueError(raw)
        return value

    return f"a secret starting with {prefix!r} (at least {min_length} characters)", parse


def text(min_length: int = 1) -> tuple[str, Callable[[str], str]]:
    def parse(raw: str) -> str:
        if len(raw.strip()) < min_length:
            raise ValueError(raw)
        return raw.strip()

    return f"text of at least {min_length} characters", parse


def host_list() -> tuple[str, Callable[[str], tuple[str, ...]]]:
    def parse(raw: str) -> tuple[str, ...]:
        hosts = tuple(dict.fromkeys(part.strip().lower() for part in raw.split(",") if part.strip()))
        if not hosts or any(any(c.isspace() or c in "/@?#" for c in h) for h in hosts):
            raise ValueError(raw)
        return hosts

    return "a comma-separated list of host names or IP addresses", parse


def email_from() -> tuple[str, Callable[[str], str]]:
    def parse(raw: str) -> str:
        value = raw.strip()
        if "@" not in value or "\n" in value or "\r" in value:
            raise ValueError(raw)
        return value

    return "an email address, optionally with a name: `Shop <shop@example.com>`", parse


def claim() -> tuple[str, Callable[[str], str]]:
    def parse(raw: str) -> str:
        value = raw.strip()
        if not value or not all(c.isalnum() or c in "_-.:/" for c in value):
            raise ValueError(raw)
        return value

    return "a JWT claim name", parse


def path() -> tuple[str, Callable[[str], Path]]:
    def parse(raw: str) -> Path:
        if not raw.strip():
            raise ValueError(raw)
        return Path(raw.strip())

    return "a directory path", parse
