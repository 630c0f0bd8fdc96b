"""The request's span: OpenTelemetry's ASGI middleware while spans are recorded, ids only otherwise.

With an exporter installed, OpenTelemetry's middleware makes the server span with its HTTP attributes
(the request context names it after the matched route). Without one, nobody reads those attributes,
and collecting them (URL, host, peer, user agent: about a tenth of a cached GET's CPU) is wasted: the
request then gets only what logs and propagation need (decision 020), the caller's `traceparent`
continued by a non-recording span with ids, current while the request runs.
"""

from __future__ import annotations

from opentelemetry import context, propagate, trace
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.trace import SpanKind
from starlette.types import ASGIApp, Receive, Scope, Send

from emporium.platform.http.middleware import request_span_details
from emporium.platform.telemetry.tracing import spans_recorded, tracer

_PROPAGATED = (b"traceparent", b"tracestate")


class RequestSpanMiddleware:
    def __init__(self, app: ASGIApp, *, excluded_urls: str) -> None:
        self.app = app
        # No spans for the ASGI receive/send messages: two per request, saying nothing the request span does not.
        self.recorded = OpenTelemetryMiddleware(
            app,
            excluded_urls=excluded_urls,
            default_span_details=request_span_details,
            exclude_spans=["receive", "send"],
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or spans_recorded():
            await self.recorded(scope, receive, send)
            return
        carrier = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope.get("headers", ())
            if name in _PROPAGATED
        }
        parent = propagate.extract(carrier) if carrier else context.get_current()
        span = tracer().start_span(str(scope.get("method", "HTTP")), context=parent, kind=SpanKind.SERVER)
        token = context.attach(trace.set_span_in_context(span, parent))
        try:
            await self.app(scope, receive, send)
        finally:
            context.detach(token)
