"""The access line is written outside the general logging path; it must read exactly as that path would
write it (same fields, same values, the same secrets redacted), and take that path when the JSON handler
is not the only one installed."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import structlog
from opentelemetry import propagate
from opentelemetry.sdk.resources import Resource

from emporium.platform.telemetry.logging import AccessLog, configure_logging
from emporium.platform.telemetry.tracing import EmporiumTracerProvider

INCOMING = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
FIELDS: dict[str, str | int | float] = {"method": "POST", "route": "/v1/orders", "status": 201, "duration_ms": 3.25}


class JsonLog:
    def __init__(self, handler: logging.Handler, stream: io.StringIO) -> None:
        self.handler = handler
        self.stream = stream

    def only_handler(self) -> None:
        """Ours alone on the root logger, as in the server (pytest adds its capturing handlers per test phase)."""
        logging.getLogger().handlers[:] = [self.handler]

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines()]


@pytest.fixture
def json_log() -> Iterator[JsonLog]:
    stream = io.StringIO()
    configure_logging("info", "json")
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    structlog.contextvars.bind_contextvars(request_id="req_abc")
    try:
        yield JsonLog(handler, stream)
    finally:
        structlog.contextvars.clear_contextvars()
        logging.getLogger().handlers.clear()


def _direct(access: AccessLog) -> AccessLog:
    """`access`, failing the test if a line took the general path."""

    class Refuse:
        def info(self, *_: object, **__: object) -> None:
            raise AssertionError("the access line took the general path")

    access._general = Refuse()  # type: ignore[assignment]
    return access


def test_the_access_line_reads_as_the_general_path_writes_it(json_log: JsonLog) -> None:
    tracer = EmporiumTracerProvider(Resource.create({"service.name": "test"})).get_tracer("test")
    json_log.only_handler()
    with tracer.start_as_current_span("request", context=propagate.extract({"traceparent": INCOMING})):
        _direct(AccessLog("emporium.access")).request(**FIELDS)
        structlog.stdlib.get_logger("emporium.access").info("request", **FIELDS)
    fast, general = json_log.lines()
    assert fast.pop("timestamp") and general.pop("timestamp")
    assert fast == general
    assert fast["trace_id"] == "0af7651916cd43dd8448eb211c80319c" and fast["request_id"] == "req_abc"


def test_a_request_id_that_looks_like_a_key_is_redacted_as_the_general_path_does(json_log: JsonLog) -> None:
    secret = "emp_live_abcdefgh" + "x" * 24
    structlog.contextvars.bind_contextvars(request_id=secret)
    json_log.only_handler()
    _direct(AccessLog("emporium.access")).request(**FIELDS)
    structlog.stdlib.get_logger("emporium.access").info("request", **FIELDS)
    fast, general = json_log.lines()
    assert secret not in json_log.stream.getvalue()
    assert fast["request_id"] == general["request_id"] == "emp_live_abcdefgh…"


def test_a_context_variable_json_has_no_type_for_is_written_as_the_general_path_writes_it(json_log: JsonLog) -> None:
    structlog.contextvars.bind_contextvars(tags={"vip"}, at=datetime(2026, 12, 7, tzinfo=UTC))
    json_log.only_handler()
    _direct(AccessLog("emporium.access")).request(**FIELDS)
    structlog.stdlib.get_logger("emporium.access").info("request", **FIELDS)
    fast, general = json_log.lines()
    assert fast.pop("timestamp") and general.pop("timestamp")
    assert fast == general
    assert fast["tags"] == "{'vip'}"


def test_below_info_nothing_is_written(json_log: JsonLog) -> None:
    json_log.only_handler()
    logging.getLogger().setLevel(logging.WARNING)
    _direct(AccessLog("emporium.access")).request(**FIELDS)
    assert json_log.stream.getvalue() == ""


def test_another_handler_installed_takes_the_general_path(json_log: JsonLog) -> None:
    json_log.only_handler()
    other = io.StringIO()
    logging.getLogger().addHandler(logging.StreamHandler(other))
    AccessLog("emporium.access").request(**FIELDS)
    (line,) = json_log.lines()  # the formatted line, through the configured handler ...
    assert line["event"] == "request" and line["route"] == "/v1/orders"
    assert "request" in other.getvalue()  # ... and through the other one too, as any log line would be
