"""What the API request log adds to a request's path, and what its writer pays off the path (decision 034).

    .venv/bin/python -m bench.request_log

No database and no network: requests go straight through `RequestContextMiddleware` (the one that
appends to the request log's buffer) around a trivial route, once without a buffer and once with
one, in alternating blocks so machine noise lands on both. Reported: per-request p50/p99 of each,
and the writer's CPU per request turned into a row (`to_records`), which runs in the background.
`make bench` runs it too and records the figures under `request_log`.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from typing import Any

from starlette.types import Receive, Scope, Send

from emporium.platform.http.middleware import RequestContextMiddleware
from emporium.platform.requestlog import RequestLogBuffer, to_records
from emporium.platform.telemetry.logging import configure_logging

HEADERS = [(b"authorization", b"Bearer emp_live_x"), (b"idempotency-key", b"key-1"), (b"host", b"bench")]


async def _route(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b"{}"})


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: dict[str, Any]) -> None:
    return None


def _scope() -> dict[str, Any]:
    return {"type": "http", "method": "POST", "path": "/v1/orders", "headers": list(HEADERS), "query_string": b""}


async def _timed(app: RequestContextMiddleware, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        await app(_scope(), _receive, _send)  # type: ignore[arg-type]
        samples.append(time.perf_counter() - started)
    return samples


def _percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


async def measure(requests: int = 20_000, blocks: int = 40) -> dict[str, Any]:
    configure_logging("warning", "json")  # the access line would cost more than what is measured
    buffer = RequestLogBuffer(capacity=requests + 1)
    without, with_log = RequestContextMiddleware(_route), RequestContextMiddleware(_route, request_log=buffer)
    plain: list[float] = []
    logged: list[float] = []
    await _timed(without, 500)  # warm-up of both paths
    await _timed(with_log, 500)
    buffer.take()
    raw = []
    for _ in range(blocks):
        plain += await _timed(without, requests // blocks)
        logged += await _timed(with_log, requests // blocks)
        raw += buffer.take()  # as the writer does every half second: the buffer stays small
    started = time.process_time()
    records = to_records(raw)
    convert_cpu = time.process_time() - started

    def micro(value: float) -> float:
        return round(value * 1e6, 2)

    return {
        "requests_each": len(plain),
        "without_log_us": {"p50": micro(_percentile(plain, 0.5)), "p99": micro(_percentile(plain, 0.99))},
        "with_log_us": {"p50": micro(_percentile(logged, 0.5)), "p99": micro(_percentile(logged, 0.99))},
        "mean_added_us": micro(statistics.fmean(logged) - statistics.fmean(plain)),
        "buffered": len(raw),
        "writer_convert_us_per_request": micro(convert_cpu / max(len(records), 1)),
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(measure()), indent=2))
