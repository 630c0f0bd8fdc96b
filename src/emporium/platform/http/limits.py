"""Edge limits: request body size and request time.

A body larger than the limit is refused with 413 before the application reads
it (from Content-Length when present, else while streaming). A request that
runs past the timeout is cancelled and answered 503 with Retry-After, so a
stuck dependency cannot hold a worker's capacity forever.
"""

from __future__ import annotations

import asyncio
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emporium.platform.http.problems import PROBLEM_MEDIA_TYPE, problem_body

MAX_BODY_BYTES = 1_048_576
# The unread rest of the body is still on its way: the connection cannot carry another request, and a pooling
# client must be told so, or its next request on this connection fails.
_CLOSE = {"Connection": "close"}


async def send_problem(
    send: Send, scope: Scope, status: int, code: str, title: str, detail: str, headers: dict[str, str] | None = None
) -> None:
    body = problem_body(
        status=status,
        code=code,
        title=title,
        detail=detail,
        instance=scope.get("path"),
        request_id=scope.get("state", {}).get("request_id"),
    )
    payload = json.dumps(body).encode()
    raw_headers = [(b"content-type", PROBLEM_MEDIA_TYPE.encode()), (b"content-length", str(len(payload)).encode())]
    raw_headers += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": payload})


class LimitsMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int = MAX_BODY_BYTES, timeout_seconds: float = 30.0) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.timeout_seconds = timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope.get("headers", ()) if k == b"content-length"), None)
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
            await send_problem(
                send, scope, 413, "payload_too_large", "Request body too large",
                f"request bodies are limited to {self.max_body_bytes} bytes", _CLOSE,
            )  # fmt: skip
            return
        received = 0
        started = False
        rejected = False

        async def counted_receive() -> Message:
            nonlocal received, rejected, started
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes and not rejected:
                    rejected = True
                    if not started:
                        started = True
                        await send_problem(
                            send, scope, 413, "payload_too_large", "Request body too large",
                            f"request bodies are limited to {self.max_body_bytes} bytes", _CLOSE,
                        )  # fmt: skip
                    # Frameworks turn exceptions raised here into their own 400; a disconnect stops the read.
                    return {"type": "http.disconnect"}
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if rejected:
                return  # the 413 has been answered; whatever the app says next goes nowhere
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            async with asyncio.timeout(self.timeout_seconds):
                await self.app(scope, counted_receive, tracked_send)
        except TimeoutError:
            if not started:
                await send_problem(
                    send, scope, 503, "request_timeout", "The request took too long",
                    f"the request did not finish within {self.timeout_seconds:g} s; retry later",
                    {"Retry-After": "1"},
                )  # fmt: skip
        except Exception:
            if not rejected:
                raise
