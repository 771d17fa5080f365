"""The RED-from-spans dashboard: rate, errors and duration that Jaeger's spanmetrics connector derives
from the spans themselves, beside the services' own HTTP metrics."""

from __future__ import annotations

from .panels import dashboard, targets, timeseries


def red_from_spans() -> dict:
    """RED metrics Jaeger's spanmetrics connector derives from every span (deploy/jaeger/config.yml).

    Metric names: the connector (OpenTelemetry Collector contrib v0.139.0, in Jaeger 2.12.0) emits
    `calls` and `duration` (unit ms) in namespace `traces.span.metrics`; its Prometheus exporter names
    them traces_span_metrics_calls_total and traces_span_metrics_duration_milliseconds_*, which is
    also what Jaeger's Monitor tab queries (internal/storage/metricstore/prometheus, with
    normalize_calls/normalize_duration). Labels: service_name, span_name, span_kind
    (SPAN_KIND_SERVER, ...), status_code (STATUS_CODE_ERROR, ...). deploy/tests/check_static.py
    (`jaeger`) checks these names against the Jaeger config. Windows are 5m, not $__rate_interval:
    the connector flushes every 15s, so a 20s window would often hold a single flush.
    """
    calls = "traces_span_metrics_calls_total"
    duration = "traces_span_metrics_duration_milliseconds_bucket"
    server = 'span_kind="SPAN_KIND_SERVER"'
    by_service = "{{service_name}}"
    panels = [
        timeseries("Calls per second by service (server spans)", "Server spans per second per service, from "
                   f"Jaeger's spanmetrics connector ({calls}): the same numbers as Jaeger's Monitor tab.", "reqps",
                   targets((f"sum by (service_name) (rate({calls}{{{server}}}[5m]))", by_service))),
        timeseries("Error ratio by service (server spans)", "Share of each service's server spans with status "
                   "Error (status_code=STATUS_CODE_ERROR); 0 when none.", "percentunit",
                   targets((f'(sum by (service_name) (rate({calls}{{{server}, status_code="STATUS_CODE_ERROR"}}[5m]))'
                            f" or sum by (service_name) (rate({calls}{{{server}}}[5m])) * 0)"
                            f" / sum by (service_name) (rate({calls}{{{server}}}[5m]))", by_service)),
                   maximum=1),
        timeseries("Duration p95 by service (server spans)", "95th percentile of server span duration per "
                   f"service ({duration}, milliseconds).", "ms",
                   targets((f"histogram_quantile(0.95, sum by (service_name, le) (rate({duration}{{{server}}}[5m])))",
                            by_service))),
        timeseries("Duration p95 of outgoing calls (client spans)", "95th percentile of client span duration by "
                   "service and operation: Redis commands, probes, loadgen's requests.", "ms",
                   targets((f"histogram_quantile(0.95, sum by (service_name, span_name, le) "
                            f'(rate({duration}{{span_kind="SPAN_KIND_CLIENT"}}[5m])))',
                            "{{service_name}} {{span_name}}"))),
        timeseries("Calls per second by operation", "Spans per second by service, operation (span name) and "
                   "kind; the Monitor tab's per-operation table shows the same.", "reqps",
                   targets((f"sum by (service_name, span_name, span_kind) (rate({calls}[5m]))",
                            "{{service_name}} {{span_name}} {{span_kind}}")), w=24),
    ]
    return dashboard("ors-red-from-spans", "RED from spans",
                     "Rate, errors and duration computed by Jaeger from the spans themselves (spanmetrics "
                     "connector), next to the services' own HTTP metrics on the other dashboards. Jaeger's "
                     "Monitor tab (http://localhost:16686/monitor) shows the same series.", panels,
                     links=[{"title": "Jaeger Monitor tab", "type": "link", "url": "http://localhost:16686/monitor",
                             "targetBlank": True, "icon": "external link", "tags": [], "asDropdown": False,
                             "includeVars": False, "keepTime": False}])
