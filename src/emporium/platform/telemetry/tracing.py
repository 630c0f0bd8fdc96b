"""Tracing: OpenTelemetry configured in code, and `@traced`, the one decorator for our own spans.

`@traced` names a span `<module>.<role>.<function>` from where the function
lives (`modules/orders/workflows.py` -> `orders.workflow.place_order`) and
tags it with `emporium.module` and `emporium.role`, so a trace reads like the
architecture: handler -> orchestrator -> workflows -> services -> SQL.
A `DomainError` is an expected business answer, not a fault: it is recorded
as the span's `emporium.error_code`, without marking the span as failed.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ParamSpec, TypeVar

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, Status, StatusCode

from emporium.platform.errors import DomainError

P = ParamSpec("P")
R = TypeVar("R")

_ROLES = {
    "workflows": "workflow",
    "services": "service",
    "api": "api",
    "subscribers": "handler",
    "handlers": "handler",
    "store": "service",
    "jobs": "job",
}


def tracer() -> trace.Tracer:
    return trace.get_tracer("emporium")


def role_of(module_path: str) -> tuple[str, str]:
    """('emporium.modules.orders.workflows') -> ('orders', 'workflow'); orchestrators -> (name, 'orchestrator')."""
    parts = module_path.split(".")
    if len(parts) >= 3 and parts[1] == "orchestrators":
        return parts[2], "orchestrator"
    if len(parts) >= 4 and parts[1] in {"modules", "platform"}:
        return parts[2], _ROLES.get(parts[3], parts[3])
    return parts[-1], "component"


def traced(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    module, role = role_of(fn.__module__)
    name = f"{module}.{role}.{fn.__name__}"
    attributes = {"emporium.module": module, "emporium.role": role}

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with tracer().start_as_current_span(
            name, attributes=attributes, record_exception=False, set_status_on_exception=False
        ) as span:
            try:
                return await fn(*args, **kwargs)
            except DomainError as error:
                span.set_attribute("emporium.error_code", error.code)
                raise
            except BaseException as error:
                _fail(span, error)
                raise

    return wrapper


def _fail(span: Span, error: BaseException) -> None:
    span.record_exception(error)
    span.set_status(Status(StatusCode.ERROR, type(error).__name__))


def current_trace_context() -> dict[str, str]:
    """The W3C `traceparent`/`tracestate` of the current span, to store with an outbox event."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def context_from(carrier: Mapping[str, str]) -> context.Context:
    return propagate.extract(dict(carrier))


def configure_tracing(service_name: str, otlp_endpoint: str | None) -> TracerProvider:
    """Install the SDK provider (once per process). Spans always exist, so logs can carry trace ids;
    they leave the process only when an OTLP endpoint is configured."""
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint)))
    trace.set_tracer_provider(provider)
    return provider


def instrument_libraries() -> None:
    """httpx (outgoing calls carry `traceparent`) and redis, process-wide, once."""
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    if not HTTPXClientInstrumentor().is_instrumented_by_opentelemetry:
        HTTPXClientInstrumentor().instrument()
    if not RedisInstrumentor().is_instrumented_by_opentelemetry:
        RedisInstrumentor().instrument()


def instrument_engine(engine: Any) -> None:
    """A span per SQL statement on this engine. (The instrumentor's `instrument()` works once per process,
    and each worker, test or CLI command may own several engines, so each gets its own tracer.)"""
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.metrics import get_meter

    usage = get_meter("emporium.sql").create_up_down_counter("db.client.connections.usage")
    EngineTracer(tracer(), engine.sync_engine, usage)  # type: ignore[no-untyped-call]
