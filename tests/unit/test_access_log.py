"""The access line is written outside the general logging path; it must read exactly as that path would
write it (same fields, same values), and take that path when the JSON handler is not the one installed."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog
from opentelemetry import propagate
from opentelemetry.sdk.resources import Resource

from emporium.platform.telemetry.logging import AccessLog, configure_logging
from emporium.platform.telemetry.tracing import EmporiumTracerProvider

INCOMING = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
FIELDS: dict[str, str | int | float] = {"method": "POST", "route": "/v1/orders", "status": 201, "duration_ms": 3.25}


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("info", "json")
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    structlog.contextvars.bind_contextvars(request_id="req_abc")
    try:
        yield stream
    finally:
        structlog.contextvars.clear_contextvars()
        logging.getLogger().handlers.clear()


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_the_access_line_reads_as_the_general_path_writes_it(json_log: io.StringIO) -> None:
    tracer = EmporiumTracerProvider(Resource.create({"service.name": "test"})).get_tracer("test")
    with tracer.start_as_current_span("request", context=propagate.extract({"traceparent": INCOMING})):
        AccessLog("emporium.access").request(**FIELDS)
        structlog.stdlib.get_logger("emporium.access").info("request", **FIELDS)
    fast, general = _lines(json_log)
    assert fast.pop("timestamp") and general.pop("timestamp")
    assert fast == general
    assert fast["trace_id"] == "0af7651916cd43dd8448eb211c80319c" and fast["request_id"] == "req_abc"


def test_below_info_nothing_is_written(json_log: io.StringIO) -> None:
    logging.getLogger().setLevel(logging.WARNING)
    AccessLog("emporium.access").request(**FIELDS)
    assert json_log.getvalue() == ""


def test_another_handler_installed_takes_the_general_path(json_log: io.StringIO) -> None:
    other = io.StringIO()
    extra = logging.StreamHandler(other)
    logging.getLogger().addHandler(extra)
    AccessLog("emporium.access").request(**FIELDS)
    (line,) = _lines(json_log)  # the formatted line, through the configured handler ...
    assert line["event"] == "request" and line["route"] == "/v1/orders"
    assert "request" in other.getvalue()  # ... and through the other one too, as any log line would be
