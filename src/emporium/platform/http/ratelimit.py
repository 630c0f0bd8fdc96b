"""429 with Retry-After and RateLimit headers when a key or an org goes over its budget.

Runs after authentication (it needs the principal); anonymous requests are
answered 401 by the gate anyway and are not counted.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emporium.platform.auth.gate import PRINCIPAL_KEY
from emporium.platform.auth.principal import Principal
from emporium.platform.http.limits import send_problem
from emporium.platform.ratelimit import Bucket, Decision, RateLimiter, retry_after_header
from emporium.platform.telemetry.metrics import HTTP_RATE_LIMITED


@dataclass(frozen=True, slots=True)
class RateLimits:
    per_actor: Bucket
    per_org: Bucket


def _headers(decision: Decision, bucket: Bucket) -> list[tuple[bytes, bytes]]:
    policy = f'"actor";q={bucket.burst};w={max(1, math.ceil(bucket.burst / bucket.rate))}'
    value = f'"actor";r={decision.remaining};t={max(0, math.ceil(decision.reset))}'
    return [(b"ratelimit-policy", policy.encode()), (b"ratelimit", value.encode())]


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, limiter: Callable[[Scope], RateLimiter | None], limits: RateLimits) -> None:
        self.app = app
        self.limiter = limiter
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal = scope.get("state", {}).get(PRINCIPAL_KEY) if scope["type"] == "http" else None
        limiter = self.limiter(scope)
        if not isinstance(principal, Principal) or limiter is None:
            await self.app(scope, receive, send)
            return
        actor = await limiter.take(f"actor:{principal.actor_id}", self.limits.per_actor)
        org = await limiter.take(f"org:{principal.org_id}", self.limits.per_org) if actor.allowed else actor
        if not (actor.allowed and org.allowed):
            refused, which = (actor, "actor") if not actor.allowed else (org, "org")
            HTTP_RATE_LIMITED.labels(which).inc()
            await send_problem(
                send, scope, 429, "rate_limited", "Too many requests",
                f"the {'API key' if which == 'actor' else 'org'} is over its request budget; retry after the delay",
                {"Retry-After": retry_after_header(refused)},
            )  # fmt: skip
            return
        extra = _headers(actor, self.limits.per_actor)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)
