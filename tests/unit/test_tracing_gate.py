"""Without an exporter a span is only a context (ids, for logs and `traceparent`); with one, spans are recorded."""

from __future__ import annotations

from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from emporium.platform.telemetry.tracing import EmporiumTracerProvider

INCOMING = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_spans_are_bare_contexts_until_an_exporter_is_added_and_recorded_after() -> None:
    provider = EmporiumTracerProvider(Resource.create({"service.name": "test"}))
    tracer = provider.get_tracer("test")
    parent = propagate.extract({"traceparent": INCOMING})

    with tracer.start_as_current_span("request", context=parent) as span:
        assert not span.is_recording()
        assert span.get_span_context().trace_id == int("0af7651916cd43dd8448eb211c80319c", 16)  # for logs
        carrier: dict[str, str] = {}
        propagate.inject(carrier)  # what outbox events and outgoing calls carry
        assert carrier["traceparent"].startswith("00-0af7651916cd43dd8448eb211c80319c-")
        assert carrier["traceparent"].split("-")[2] != "b7ad6b7169203331"  # a child of the incoming span

    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with tracer.start_as_current_span("request", context=parent) as span:
        assert span.is_recording()
    (recorded,) = exporter.get_finished_spans()
    assert recorded.parent is not None and recorded.parent.span_id == int("b7ad6b7169203331", 16)
    assert trace.format_trace_id(recorded.context.trace_id) == "0af7651916cd43dd8448eb211c80319c"
