"""Edge protections: body size (413), request timeout (503), load shedding by priority (503 at once),
rate limits per key and per org (429 with Retry-After and RateLimit headers)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest
from fastapi import FastAPI

from emporium.bootstrap.app import create_app
from emporium.bootstrap.modules import INSTALLED
from emporium.bootstrap.runtime import open_runtime
from emporium.config import Config
from emporium.platform.http.shedding import AdaptiveLimit, ShedSettings
from emporium.platform.ratelimit import Bucket, MemoryRateLimiter, RedisRateLimiter
from tests.services import configured
from tests.support.clock import FakeClock
from tests.support.identity import Tenant, bearer
from tests.support.problems import assert_problem


async def test_a_body_over_the_limit_is_413_before_it_is_read(app_client: httpx.AsyncClient, tenant: Tenant) -> None:
    big = b'{"name": "' + b"x" * (1_048_576 + 10) + b'"}'
    declared = await app_client.post(
        "/v1/categories", headers={**bearer(tenant.owner_key), "content-type": "application/json"}, content=big
    )
    assert_problem(declared, 413, "payload_too_large")

    async def stream() -> AsyncIterator[bytes]:  # no Content-Length: counted while it arrives
        for _ in range(20):
            yield b"x" * 100_000

    streamed = await app_client.post(
        "/v1/categories", headers={**bearer(tenant.owner_key), "content-type": "application/json"}, content=stream()
    )
    assert streamed.status_code == 413


@pytest.fixture
def gate() -> asyncio.Event:
    return asyncio.Event()


def _app_with_slow_routes(config: Config, gate: asyncio.Event) -> FastAPI:
    app = create_app(None, config)

    @app.get("/v1/products-slow-probe")
    async def browse() -> dict[str, bool]:  # test-only route in the "low" priority class
        await gate.wait()
        return {"ok": True}

    @app.post("/v1/orders-slow-probe")
    async def checkout() -> dict[str, bool]:  # test-only route in the "critical" class
        await gate.wait()
        return {"ok": True}

    return app


async def test_a_request_running_past_the_timeout_is_503(gate: asyncio.Event) -> None:
    app = _app_with_slow_routes(Config(request_timeout=1), gate)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.get("/v1/products-slow-probe")
    problem = assert_problem(response, 503, "request_timeout")
    assert response.headers["retry-after"] == "1"
    assert "1 s" in str(problem["detail"])


async def test_browsing_is_shed_before_checkout_and_nothing_queues(gate: asyncio.Event) -> None:
    app = _app_with_slow_routes(Config(shed_max_concurrent=10, request_timeout=60), gate)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        browsing = [asyncio.create_task(client.get("/v1/products-slow-probe")) for _ in range(6)]
        for _ in range(100):  # let them start (they then block on the gate)
            await asyncio.sleep(0)
        shed_browse = await client.get("/v1/products-slow-probe")  # low: 60 % of 10 = 6 -> full
        checkout = [asyncio.create_task(client.post("/v1/orders-slow-probe")) for _ in range(4)]
        for _ in range(100):
            await asyncio.sleep(0)
        shed_checkout = await client.post("/v1/orders-slow-probe")  # critical: 100 % of 10 -> full now
        gate.set()
        done = await asyncio.gather(*browsing, *checkout)
    assert_problem(shed_browse, 503, "overloaded")
    assert shed_browse.headers["retry-after"] == "1"
    assert_problem(shed_checkout, 503, "overloaded")
    assert all(r.status_code == 200 for r in done)  # what was accepted was served


def test_priorities() -> None:
    priority_of = INSTALLED.shed_policy().priority_of
    assert priority_of("POST", "/v1/orders") == "critical"
    assert priority_of("POST", "/v1/provider-webhooks/stripe") == "critical"
    assert priority_of("GET", "/v1/products") == "low"
    assert priority_of("PATCH", "/v1/products/prd_1") == "normal"


def _interval(limit: AdaptiveLimit, clock: FakeClock, seconds: float, in_flight: int, answers: int = 10) -> float:
    """`answers` requests answered after `seconds` each, with `in_flight` under way, over one interval."""
    for _ in range(answers - 1):
        limit.observe(seconds, in_flight)
    clock.now += AdaptiveLimit.INTERVAL_SECONDS
    limit.observe(seconds, in_flight)  # the interval is over: the limit moves on this answer
    return limit.limit


def test_the_adaptive_limit_starts_modest_and_shrinks_in_proportion_to_the_latency() -> None:
    clock = FakeClock()
    settings = ShedSettings(max_concurrent=100, adaptive=True, latency_target_seconds=0.1, initial_concurrent=40)
    limit = AdaptiveLimit(settings, clock)
    assert limit.limit == 40
    assert _interval(limit, clock, 0.125, in_flight=40) == 32  # 25 % over the target: 20 % fewer
    assert _interval(limit, clock, 5.0, in_flight=32) == 16  # far over: at most halved per interval
    for _ in range(10):
        _interval(limit, clock, 5.0, in_flight=16)
    assert limit.limit == settings.min_concurrent  # never below the floor


def test_the_adaptive_limit_grows_back_only_while_traffic_uses_it() -> None:
    clock = FakeClock()
    limit = AdaptiveLimit(ShedSettings(max_concurrent=30, adaptive=True, latency_target_seconds=0.1), clock)
    assert limit.limit == 8
    assert _interval(limit, clock, 0.01, in_flight=2) == 8  # fast, but a quarter used: stays put
    assert _interval(limit, clock, 0.01, in_flight=4) == 9  # half used and fast: grows
    for _ in range(40):
        _interval(limit, clock, 0.01, in_flight=int(limit.limit))
    assert limit.limit == 30  # up to the ceiling, not past it
    assert _interval(limit, clock, 9.0, in_flight=30, answers=AdaptiveLimit.MIN_SAMPLES - 1) == 30  # too few


def test_a_fixed_limit_ignores_latency() -> None:
    clock = FakeClock()
    limit = AdaptiveLimit(ShedSettings(max_concurrent=30, adaptive=False), clock)
    assert _interval(limit, clock, 9.0, in_flight=30) == 30


async def test_a_key_over_its_budget_gets_429_with_headers(config: Config, database_url: str, tenant: Tenant) -> None:
    strict = replace(config, rate_limit_per_key=1, rate_limit_per_org=1000)
    app = create_app(lambda: open_runtime(strict, database_url), strict)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answers = [await client.get("/v1/auth/whoami", headers=bearer(tenant.storefront_key)) for _ in range(3)]
        other_key = await client.get("/v1/auth/whoami", headers=bearer(tenant.owner_key))
    assert [a.status_code for a in answers] == [200, 200, 429]  # a burst of 2, then refused
    assert "ratelimit" in answers[0].headers
    assert answers[0].headers["ratelimit-policy"].startswith('"actor";q=2')
    problem = assert_problem(answers[2], 429, "rate_limited")
    assert int(answers[2].headers["retry-after"]) >= 1
    assert "API key" in str(problem["detail"])
    assert other_key.status_code == 200  # budgets are per key


async def test_token_bucket_refills_at_its_rate() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(clock=clock)
    bucket = Bucket(rate=2, burst=2)
    assert [(await limiter.take("k", bucket)).allowed for _ in range(3)] == [True, True, False]
    clock.now += 0.5
    assert (await limiter.take("k", bucket)).allowed
    assert not (await limiter.take("k", bucket)).allowed


async def test_redis_buckets_are_shared_between_replicas() -> None:
    url = configured("TEST_REDIS_URL")
    if url is None:
        pytest.skip("no Redis configured: set TEST_REDIS_URL to run the Redis rate limit test")
    import secrets

    from redis.asyncio import Redis

    one, two = Redis.from_url(url), Redis.from_url(url)
    try:
        a, b = RedisRateLimiter(one), RedisRateLimiter(two)
        key, bucket = f"test-{secrets.token_hex(4)}", Bucket(rate=0.01, burst=3)
        results = [(await limiter.take(key, bucket)).allowed for limiter in (a, b, a, b)]
        assert results == [True, True, True, False]
    finally:
        await one.aclose()
        await two.aclose()
