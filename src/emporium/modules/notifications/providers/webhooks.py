"""The webhook sender (service role): Standard Webhooks signatures, guarded connections, no redirects."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime

import httpx
from standardwebhooks import Webhook

from emporium.modules.notifications.domain import Attempt
from emporium.platform.http.ssrf import GuardedTransport, SsrfGuard, SsrfRefused
from emporium.platform.telemetry.tracing import current_trace_context

USER_AGENT = "Emporium-Webhooks/1"


def signature_header(secrets: Sequence[str], message_id: str, timestamp: datetime, body: str) -> str:
    """`v1,<sig>` per secret, space-separated: during a rotation receivers accept either secret."""
    return " ".join(Webhook(secret).sign(message_id, timestamp, body) for secret in secrets)


class WebhookSender:
    def __init__(self, guard: SsrfGuard, *, timeout: float = 15.0, max_connections: int = 100) -> None:
        self.guard = guard
        self._client = httpx.AsyncClient(
            transport=GuardedTransport(guard, max_connections=max_connections),
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
        )

    async def send(
        self, delivery_id: str, url: str, message_id: str, body: str, secrets: Sequence[str], now: datetime
    ) -> Attempt:
        """One attempt; never raises for what the endpoint (or the network, or the guard) did."""
        timestamp = datetime.now(UTC).replace(microsecond=0)  # the real send time: receivers check it
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": message_id,
            "webhook-timestamp": str(int(timestamp.timestamp())),
            "webhook-signature": signature_header(secrets, message_id, timestamp, body),
            **current_trace_context(),  # `traceparent`: the receiver can join the order's trace
        }
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        try:
            response = await self._client.post(url, content=body.encode(), headers=headers)
            status = response.status_code
            if not response.is_success:
                error = f"HTTP {status}" + (
                    f" redirect to {response.headers.get('location', '?')} (not followed)"
                    if response.is_redirect
                    else ""
                )
        except SsrfRefused as refused:
            error = f"refused by the SSRF guard: {refused}"
        except httpx.HTTPError as failure:
            error = f"{type(failure).__name__}: {failure}"[:500] or type(failure).__name__
        except TimeoutError:
            error = "timed out resolving the host"
        except OSError as failure:
            error = f"{type(failure).__name__}: {failure}"[:500]
        duration = int((time.perf_counter() - started) * 1000)
        return Attempt(delivery_id, status, error, duration, now)

    async def close(self) -> None:
        await self._client.aclose()
