"""Drains the request-log buffer in batches, off the request path."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from emporium.platform.auth.gate import PRINCIPAL_KEY
from emporium.platform.auth.principal import Principal
from emporium.platform.requestlog.buffer import RawRequest, RequestLogBuffer
from emporium.platform.telemetry.metrics import API_LOG_DROPPED, API_LOG_WRITTEN

_log = structlog.stdlib.get_logger("emporium.requestlog")
# Probes and scrapes are not API calls; the console's pages neither (an open overview polls every 5 s).
UNLOGGED_ROUTES = frozenset({"/livez", "/readyz", "/metrics"})
UNLOGGED_PREFIX = "/console"
IDEMPOTENCY_HEADER = b"idempotency-key"


@dataclass(frozen=True, slots=True)
class RequestRecord:
    occurred_at: datetime
    org_id: str | None
    actor_type: str | None
    actor_id: str | None
    method: str
    route: str
    status: int
    latency_ms: float
    idempotency_key: str | None
    request_id: str | None


def _header(headers: object, name: bytes) -> str | None:
    for key, value in headers:  # type: ignore[attr-defined]
        if key == name:
            return bytes(value).decode("latin-1")[:255]
    return None


def to_records(raw: list[RawRequest]) -> list[RequestRecord]:
    records = []
    for at, state, route, method, status, seconds, headers in raw:
        if route in UNLOGGED_ROUTES or route.startswith(UNLOGGED_PREFIX):
            continue
        principal = state.get(PRINCIPAL_KEY)
        who = principal if isinstance(principal, Principal) else None
        records.append(
            RequestRecord(
                occurred_at=datetime.fromtimestamp(at, UTC),
                org_id=who.org_id if who and who.org_id else None,
                actor_type=who.actor_type.value if who else None,
                actor_id=who.actor_id if who else None,
                method=method,
                route=route,
                status=status,
                latency_ms=round(seconds * 1000, 3),
                idempotency_key=_header(headers, IDEMPOTENCY_HEADER),
                request_id=state.get("request_id"),
            )
        )
    return records


Write = Callable[[list[RequestRecord]], Awaitable[None]]


class RequestLogWriter:
    """Every `interval` seconds (or sooner when half full), writes what the buffer holds in batches of `batch`.

    A batch the database refuses is dropped and counted: the log must never hold memory without bound
    nor slow the API down while PostgreSQL is away.
    """

    def __init__(self, buffer: RequestLogBuffer, write: Write, *, interval: float = 0.5, batch: int = 2_000) -> None:
        self.buffer = buffer
        self._write = write
        self._interval = interval
        self._batch = batch
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="request-log-writer")

    async def flush(self) -> int:
        """Write what is buffered now; the number of requests written."""
        records = to_records(self.buffer.take())
        written = 0
        for start in range(0, len(records), self._batch):
            chunk = records[start : start + self._batch]
            try:
                await self._write(chunk)
            except Exception as error:
                self.buffer.dropped += len(chunk)
                API_LOG_DROPPED.inc(len(chunk))
                _log.warning("api_log_write_failed", dropped=len(chunk), error=type(error).__name__)
                continue
            written += len(chunk)
            API_LOG_WRITTEN.inc(len(chunk))
        return written

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.flush()

    async def stop(self) -> None:
        """At shutdown: stop the loop, then write what is left."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()
