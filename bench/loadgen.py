"""Load generators: wrk when installed (GETs), else a closed-loop httpx client that reports its own CPU.

Both run N concurrent clients for a fixed time after a warm-up and report throughput, latency
percentiles and the error rate. The client's CPU share is reported so a saturated generator is
visible (on 2 shared cores the generator competes with the server it measures).
"""

from __future__ import annotations

import asyncio
import json
import random
import resource
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

# A request maker returns (method, path, headers, json body or None) for the i-th request of a client.
Request = tuple[str, str, dict[str, str], Any]
MakeRequest = Callable[[random.Random], Request]


@dataclass
class Result:
    name: str
    tool: str
    concurrency: int
    duration_s: float
    requests: int
    errors: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    error_rate: float
    client_cpu_pct: float  # CPU time of the load generator / wall time, in % of one core
    statuses: dict[str, int] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        return asdict(self)


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(q / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


async def closed_loop(
    name: str,
    base_url: str,
    make: MakeRequest,
    *,
    concurrency: int,
    duration: float,
    warmup: float,
    ok: Callable[[int], bool] = lambda status: 200 <= status < 300,
    on_response: Callable[[httpx.Response], None] | None = None,
    request_timeout: float = 30.0,
) -> Result:
    """`concurrency` clients, each sending its next request when the previous one is answered."""
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    loop = asyncio.get_running_loop()
    started = loop.time()
    measure_from = started + warmup
    stop_at = measure_from + duration
    cpu_mark: list[float] = []

    async def client(seed: int, http: httpx.AsyncClient) -> None:
        nonlocal errors
        rng = random.Random(seed)
        while True:
            now = loop.time()
            if now >= stop_at:
                return
            method, path, headers, body = make(rng)
            t0 = time.perf_counter()
            try:
                response = await http.request(method, path, headers=headers, json=body)
                status = str(response.status_code)
                good = ok(response.status_code)
            except httpx.HTTPError as exc:
                response = None
                status = type(exc).__name__
                good = False
            elapsed = time.perf_counter() - t0
            # Answered inside the window, wherever it was sent: with answers slower than the window itself
            # (32 buyers on a busy 2-core machine in a 3 s quick run), "sent and answered inside" counted none.
            if measure_from <= loop.time() <= stop_at:
                latencies.append(elapsed * 1000)
                statuses[status] += 1
                if not good:
                    errors += 1
            if response is not None and on_response is not None:
                on_response(response)

    async def mark_cpu() -> None:
        await asyncio.sleep(warmup)
        cpu_mark.append(time.process_time())

    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=request_timeout) as http:
        marker = asyncio.create_task(mark_cpu())
        await asyncio.gather(*(client(i, http) for i in range(concurrency)))
        await marker
    cpu = time.process_time() - cpu_mark[0]
    wall = max(loop.time() - measure_from, 1e-9)
    return summarize(name, "httpx", concurrency, duration, latencies, errors, statuses, cpu / wall * 100)


@dataclass
class Answer:
    """One open-loop request: when it was due (s from the start), how long until its answer, what came back."""

    due_s: float
    latency_ms: float  # from when it was due
    status: str
    late_ms: float = 0.0  # how late the generator sent it (its own delay, inside latency_ms)
    code: str | None = None  # the problem's `code`, for problem+json answers
    retry_after: str | None = None
    content_type: str | None = None


async def open_loop(
    base_url: str,
    make: MakeRequest,
    *,
    rate: float,
    duration: float,
    seed: int = 1,
    request_timeout: float = 30.0,
) -> tuple[list[Answer], float]:
    """Poisson arrivals at `rate` per second for `duration` seconds, whatever the server's pace.

    Unlike `closed_loop`, a slow answer does not slow the next request down, so this is how overload is
    offered. Latency is counted from when a request was due, not when it went out, so a generator that
    falls behind shows up in the figures instead of hiding the server's delay (coordinated omission).
    Returns every answer and the generator's CPU as % of one core.
    """
    rng = random.Random(seed)
    answers: list[Answer] = []
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=256)
    loop = asyncio.get_running_loop()

    async def one(http: httpx.AsyncClient, due: float, request: Request) -> None:
        method, path, headers, body = request
        late = (loop.time() - due) * 1000
        try:
            response = await http.request(method, path, headers=headers, json=body)
        except httpx.HTTPError as exc:
            answers.append(Answer(due - started, (loop.time() - due) * 1000, type(exc).__name__, late))
            return
        latency = (loop.time() - due) * 1000
        code = None
        content_type = response.headers.get("content-type")
        if content_type == "application/problem+json":
            code = response.json().get("code")
        answers.append(
            Answer(
                due - started,
                latency,
                str(response.status_code),
                late,
                code,
                response.headers.get("retry-after"),
                content_type,
            )
        )

    cpu_before = time.process_time()
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=request_timeout) as http:
        started = loop.time()
        due = started
        in_flight: set[asyncio.Task[None]] = set()
        while True:
            due += rng.expovariate(rate)
            if due - started >= duration:
                break
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)  # the arrival schedule, not a race
            task = asyncio.create_task(one(http, due, make(rng)))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        await asyncio.gather(*in_flight)
        wall = max(loop.time() - started, 1e-9)
    return answers, (time.process_time() - cpu_before) / wall * 100


def summarize(
    name: str,
    tool: str,
    concurrency: int,
    duration: float,
    latencies: list[float],
    errors: int,
    statuses: Counter[str],
    cpu_pct: float,
) -> Result:
    values = sorted(latencies)
    n = len(values)
    return Result(
        name=name,
        tool=tool,
        concurrency=concurrency,
        duration_s=duration,
        requests=n,
        errors=errors,
        rps=round(n / duration, 1),
        p50_ms=round(percentile(values, 50), 2),
        p95_ms=round(percentile(values, 95), 2),
        p99_ms=round(percentile(values, 99), 2),
        mean_ms=round(sum(values) / n, 2) if n else 0.0,
        max_ms=round(values[-1], 2) if n else 0.0,
        error_rate=round(errors / n, 4) if n else 1.0,
        client_cpu_pct=round(cpu_pct, 1),
        statuses=dict(statuses),
    )


WRK_SCRIPT = """
local paths = {%(paths)s}
wrk.headers["Authorization"] = "%(auth)s"
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", paths[math.random(#paths)])
end
local codes = {}
response = function(status, headers, body)
  codes[status] = (codes[status] or 0) + 1
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %%d, "duration_us": %%d, "p50": %%f, "p95": %%f, "p99": %%f, "mean": %%f, "max": %%f,'
    .. ' "connect": %%d, "read": %%d, "write": %%d, "status": %%d, "timeout": %%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.mean, latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def _wrk(base_url: str, script: Path, concurrency: int, seconds: float) -> tuple[dict[str, Any], float]:
    threads = max(1, min(2, concurrency))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{concurrency}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            base_url,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    line = next(x for x in out.splitlines() if x.startswith("WRKJSON "))
    return json.loads(line.removeprefix("WRKJSON ")), cpu


def wrk_get(
    name: str, base_url: str, paths: list[str], auth: str, *, concurrency: int, duration: float, warmup: float
) -> Result:
    """GETs of random `paths` with wrk: a warm-up run, then the measured run (non-2xx are errors)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(WRK_SCRIPT % {"paths": ",".join(json.dumps(p) for p in paths), "auth": auth})
        script = Path(handle.name)
    try:
        if warmup > 0:
            _wrk(base_url, script, concurrency, warmup)
        data, cpu = _wrk(base_url, script, concurrency, duration)
    finally:
        script.unlink()
    wall = data["duration_us"] / 1e6
    n = int(data["requests"])
    errors = sum(int(data[k]) for k in ("connect", "read", "write", "status", "timeout"))
    return Result(
        name=name,
        tool="wrk",
        concurrency=concurrency,
        duration_s=round(wall, 2),
        requests=n,
        errors=errors,
        rps=round(n / wall, 1),
        p50_ms=round(data["p50"] / 1000, 2),
        p95_ms=round(data["p95"] / 1000, 2),
        p99_ms=round(data["p99"] / 1000, 2),
        mean_ms=round(data["mean"] / 1000, 2),
        max_ms=round(data["max"] / 1000, 2),
        error_rate=round(errors / n, 4) if n else 1.0,
        client_cpu_pct=round(cpu / wall * 100, 1),
        statuses={"non_2xx_or_socket_errors": errors},
    )


async def get_load(
    name: str,
    base_url: str,
    paths: list[str],
    auth: str,
    *,
    concurrency: int,
    duration: float,
    warmup: float,
    tool: str,
) -> Result:
    """GET load with wrk (`tool == "wrk"`) or the httpx fallback; same paths, same concurrency."""
    if tool == "wrk":
        return await asyncio.to_thread(
            wrk_get, name, base_url, paths, auth, concurrency=concurrency, duration=duration, warmup=warmup
        )
    headers = {"Authorization": auth} if auth else {}

    def make(rng: random.Random) -> Request:
        return ("GET", rng.choice(paths), headers, None)

    return await closed_loop(name, base_url, make, concurrency=concurrency, duration=duration, warmup=warmup)
