"""Tracing: OpenTelemetry configured in code, and `@traced`, the one decorator for our own spans.

`@traced` names a span `<module>.<role>.<function>` from where the function
lives (`modules/orders/workflows.py` -> `orders.workflow.place_order`) and
tags it with `emporium.module` and `emporium.role`, so a trace reads like the
architecture: handler -> orchestrator -> workflows -> services -> SQL.
A `DomainError` is an expected business answer, not a fault: it is recorded
as the span's `emporium.error_code`, without marking the span as failed.

By default a trace has a span per request, workflow, service and outgoing call
(HTTP, Redis); a span per SQL statement only with `TRACE_SQL=true`
(`instrument_engine`). Spans are *recorded* only while something reads them
(an exporter's span processor is installed): otherwise a span is a bare
context, ids only, which is what logs (`trace_id`) and propagation
(`traceparent` on outbox events and outgoing calls) need, and `@traced`
creates none at all (decision 020).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, ParamSpec, TypeVar

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Decision, ParentBased, Sampler, SamplingResult
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

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


@functools.cache
def tracer() -> trace.Tracer:
    """Ours, made once: before a provider is installed it is OpenTelemetry's proxy, which follows the one
    installed later (a process installs one, and OpenTelemetry refuses to replace it)."""
    return trace.get_tracer("emporium")


class _RecordWhileExported(Sampler):
    """Records (parent-based, as the SDK's default) only once a span processor is installed; before that,
    every span is dropped: a non-recording span that still has ids and carries its parent's trace state."""

    def __init__(self) -> None:
        self.exporting = False
        self._recording = ParentBased(ALWAYS_ON)

    def should_sample(
        self,
        parent_context: context.Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        if self.exporting:
            return self._recording.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)
        parent = trace.get_current_span(parent_context).get_span_context()
        return SamplingResult(Decision.DROP, None, parent.trace_state if parent.is_valid else None)

    def get_description(self) -> str:
        return "RecordWhileExported"


class EmporiumTracerProvider(TracerProvider):
    """The SDK provider, recording spans only once a span processor (an exporter) has been added."""

    def __init__(self, resource: Resource) -> None:
        self.gate = _RecordWhileExported()
        super().__init__(resource=resource, sampler=self.gate)

    def add_span_processor(self, span_processor: SpanProcessor) -> None:
        super().add_span_processor(span_processor)
        self.gate.exporting = True


def spans_recorded() -> bool:
    """Whether spans of ours would be recorded: the installed provider has an exporter (or is not ours)."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, EmporiumTracerProvider):
        return provider.gate.exporting
    return isinstance(provider, TracerProvider)


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
        if not spans_recorded():  # nobody reads it; the request's span already carries the trace context
            return await fn(*args, **kwargs)
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


class _InjectedOnce:
    """The last context's carrier: a request publishing several events asks several times in one
    OpenTelemetry context (contexts are immutable: the same object has the same span and baggage)."""

    def __init__(self) -> None:
        self.context: context.Context | None = None
        self.carrier: dict[str, str] = {}

    def of(self, current: context.Context) -> dict[str, str]:
        if current is not self.context:
            carrier: dict[str, str] = {}
            propagate.inject(carrier, context=current)
            self.context, self.carrier = current, carrier
        return dict(self.carrier)


_injected = _InjectedOnce()


def current_trace_context() -> dict[str, str]:
    """The W3C `traceparent`/`tracestate` of the current span, to store with an outbox event."""
    return _injected.of(context.get_current())


def context_from(carrier: Mapping[str, str]) -> context.Context:
    return propagate.extract(dict(carrier))


def configure_tracing(service_name: str, otlp_endpoint: str | None) -> TracerProvider:
    """Install the SDK provider (once per process). Span contexts always exist, so logs carry trace ids and
    calls carry `traceparent`; spans are recorded and leave the process only when an OTLP endpoint is
    configured (or another span processor is added, as tests do)."""
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    provider = EmporiumTracerProvider(resource=Resource.create({"service.name": service_name}))
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
    """A span per SQL statement on this engine: only with `TRACE_SQL=true` (it was most of a checkout's
    spans). (The instrumentor's `instrument()` works once per process, and each worker, test or CLI
    command may own several engines, so each gets its own tracer.)"""
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.metrics import get_meter

    usage = get_meter("emporium.sql").create_up_down_counter("db.client.connections.usage")
    EngineTracer(tracer(), engine.sync_engine, usage)  # type: ignore[no-untyped-call]
