"""Settings of traces and metrics."""

from __future__ import annotations

from emporium.config.forms import boolean, claim, http_url, text
from emporium.config.setting import Setting, setting

SETTINGS: tuple[Setting, ...] = (
    setting(
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "otlp_endpoint",
        "",
        "OTLP/HTTP endpoint for traces, e.g. http://collector:4318/v1/traces. Empty: spans are not exported.",
        http_url(),
    ),
    setting("OTEL_SERVICE_NAME", "service_name", "emporium", "The service name traces carry.", claim()),
    setting(
        "TRACE_SQL",
        "trace_sql",
        "false",
        "A span per SQL statement (spans are recorded only with an exporter). Off: spans per request, workflow,"
        " service and outgoing call.",
        boolean(),
    ),
    setting(
        "METRICS_TOKEN",
        "metrics_token",
        "",
        "Bearer token Prometheus sends to scrape `/metrics` (`Authorization: Bearer <token>`). "
        "Empty: `/metrics` answers 404 (its counters span every org, so it is never public).",
        text(16),
        secret=True,
    ),
)
