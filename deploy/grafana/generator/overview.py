"""The overview dashboard: every service's RED metrics, resources and trace-export health side by side,
selected with the $service variable, plus the load generator."""

from __future__ import annotations

from .panels import HTTP, PROM, RI, UP_DOWN, dashboard, stat, target, targets, timeseries
from .trace_links import trace_link_by_job


def overview_service_variable() -> dict:
    """$service: every job exporting service_info, several at once (the SLO dashboard narrows it)."""
    return {
        "name": "service",
        "label": "Service",
        "type": "query",
        "datasource": PROM,
        "query": {"query": "label_values(service_info, job)", "refId": "service"},
        "definition": "label_values(service_info, job)",
        "refresh": 2,
        "multi": True,
        "includeAll": True,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
        "description": "Prometheus job = Compose service = crate name; every service exports service_info.",
    }


def overview() -> dict:
    sel = 'job=~"$service"'
    service_var = overview_service_variable()
    by_job = "{{job}}"
    panels = [
        stat("Services up", "Is Prometheus scraping each selected service? (up: 1 = scrape succeeded.) "
             "Alert TargetDown fires after 1m down.", "none",
             targets((f"sum by (job) (up{{{sel}}})", by_job)), mappings=UP_DOWN,
             thresholds=[{"color": "red", "value": None}, {"color": "green", "value": 1}], w=24, h=4),
        timeseries("Requests per second", "HTTP requests answered per second by each service "
                   "(all routes and statuses; ops endpoints excluded). Click a series for its traces.", "reqps",
                   targets((f"sum by (job) (rate({HTTP}_count{{{sel}}}[{RI}]))", by_job)), links=trace_link_by_job()),
        timeseries("Error ratio (5xx)", "Share of each service's responses that are 5xx (0 when none). "
                   "Alert HighHttp5xxRatio: above 5% for 5m.", "percentunit",
                   targets((f'(sum by (job) (rate({HTTP}_count{{{sel}, http_response_status_code=~"5.."}}[{RI}]))'
                            f" or sum by (job) (rate({HTTP}_count{{{sel}}}[{RI}])) * 0)"
                            f" / sum by (job) (rate({HTTP}_count{{{sel}}}[{RI}]))", by_job)),
                   maximum=1, links=trace_link_by_job()),
        timeseries("Latency percentiles (p50, p90, p95, p99)", "Request duration percentiles per service, "
                   "from the histogram. Exemplar dots (on p95) open the trace of that request.", "s",
                   [target(f"histogram_quantile({q}, sum by (job, le) (rate({HTTP}_bucket{{{sel}}}[{RI}])))",
                           f"{{{{job}}}} p{round(q * 100)}", chr(ord("A") + i), exemplar=(q == 0.95))
                    for i, q in enumerate((0.5, 0.9, 0.95, 0.99))],
                   links=trace_link_by_job()),
        timeseries("Requests under 250 ms", "Share of each service's requests answered within 250 ms: "
                   "the le=0.25 bucket over the request count.", "percentunit",
                   targets((f'sum by (job) (rate({HTTP}_bucket{{{sel}, le="0.25"}}[{RI}]))'
                            f" / sum by (job) (rate({HTTP}_count{{{sel}}}[{RI}]))", by_job)), maximum=1),
        timeseries("In-flight requests", "Requests being handled right now, per service "
                   "(http_server_active_requests). A steady rise means requests pile up.", "none",
                   targets((f"sum by (job) (http_server_active_requests{{{sel}}})", by_job))),
        timeseries("Requests per second by route and status", "Every service's traffic split by route template "
                   "and status code: where the errors are.", "reqps",
                   targets((f"sum by (job, http_route, http_response_status_code) (rate({HTTP}_count{{{sel}}}[{RI}]))",
                            "{{job}} {{http_route}} {{http_response_status_code}}")), links=trace_link_by_job()),
        timeseries("CPU", "CPU used by each service's process, as a fraction of one core "
                   "(rate of process_cpu_seconds_total).", "percentunit",
                   targets((f"sum by (job) (rate(process_cpu_seconds_total{{{sel}}}[{RI}]))", by_job))),
        timeseries("Resident memory", "Resident set size of each service's process.", "bytes",
                   targets((f"sum by (job) (process_resident_memory_bytes{{{sel}}})", by_job))),
        timeseries("Open file descriptors", "Open fds per service process (sockets included): a leak shows "
                   "as a line that only goes up.", "none",
                   targets((f"sum by (job) (process_open_fds{{{sel}}})", by_job))),
        timeseries("Uptime", "Time since each service's process started; a drop to 0 is a restart.", "s",
                   targets((f"time() - max by (job) (process_start_time_seconds{{{sel}}})", by_job))),
        timeseries("Spans exported, failed and dropped", "Trace export health per service: spans sent to the "
                   "collector, failed exports, and spans dropped because the queue was full (alert SpansDropped). "
                   "0 when there are none.", "ops",
                   targets((f"sum by (job) (rate(otel_spans_exported_total{{{sel}}}[{RI}])) or on() vector(0)",
                            "{{job}} exported"),
                           (f"sum by (job) (rate(otel_spans_export_failed_total{{{sel}}}[{RI}])) or on() vector(0)",
                            "{{job}} failed"),
                           (f"sum by (job) (rate(otel_spans_dropped_total{{{sel}}}[{RI}])) or on() vector(0)",
                            "{{job}} dropped"))),
        timeseries("Load generator: requests per second by target and status", "What loadgen sends, as it "
                   "sees it (loadgen_requests_total): status is the HTTP code or `error`.", "reqps",
                   targets((f"sum by (target, status) (rate(loadgen_requests_total[{RI}]))", "{{target}} {{status}}"))),
        timeseries("Load generator: p95 latency by target", "Client-side p95 as loadgen measures it; the gap "
                   "to the server-side p95 above is network and queueing.", "s",
                   targets((f"histogram_quantile(0.95, sum by (target, le) (rate(loadgen_request_duration_seconds_bucket[{RI}])))",
                            "{{target}}"))),
    ]
    return dashboard("ors-overview", "Overview: all services",
                     "RED metrics (rate, errors, duration), saturation and process resources of every service, "
                     "plus trace-export health and the load generator.", panels, variables=[service_var])
