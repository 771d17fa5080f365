#!/usr/bin/env python3
"""Generates dashboards/*.json, the Grafana dashboards provisioned by docker-compose.yml.

    python3 deploy/grafana/dashboards.py          # rewrite dashboards/*.json
    python3 deploy/grafana/dashboards.py --check  # exit 1 if a file differs (deploy/check.sh runs this)

Why a generator rather than hand-edited JSON: six dashboards share the same RED panels, datasource,
trace links and conventions (every panel has a title, a unit and a description; fixed uids). Written
once here they cannot drift apart. The JSON stays committed, so Grafana (and anyone reading) needs no
Python; to change a dashboard, edit this file and regenerate, or export from Grafana and port the
change back here.

PromQL rules for every expression (the stack test runs each one against a live Prometheus and fails
on an empty result):
- only metrics from docs/METRICS.md and the exporters listed there; valid on Prometheus 2.42 and 3.x;
- rate windows are $__rate_interval (Grafana: at least 4 x the datasource's 5s timeInterval);
- counters that legitimately stay absent until something goes wrong (errors, drops, deadman stops)
  end in `or on() vector(0)`: "no errors" shows as 0, not as "No data";
- the only template variable is $service: a regex over job names (overview), one service (SLOs).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "dashboards"

PROM = {"type": "prometheus", "uid": "prometheus"}
GRAFANA = {"type": "grafana", "uid": "-- Grafana --"}
RI = "$__rate_interval"
HTTP = "http_server_request_duration_seconds"
TAG = "observable-rust-services"
SERVICES = ["web-flask-equivalent", "redis-counter", "robot-control", "url-prober", "loadgen"]


# --- links to traces ---------------------------------------------------------------------------


def jaeger_explore_url(service: str) -> str:
    """Grafana Explore on the Jaeger datasource, searching the service's traces in the dashboard's
    time range. `service` may be a Grafana variable such as ${__field.labels.job}; it is left
    unencoded so Grafana can interpolate it."""
    marker = "SERVICE_PLACEHOLDER"
    panes = {
        "a": {
            "datasource": "jaeger",
            "queries": [
                {
                    "refId": "A",
                    "datasource": {"type": "jaeger", "uid": "jaeger"},
                    "queryType": "search",
                    "service": marker,
                }
            ],
            "range": {"from": "$__from", "to": "$__to"},
        }
    }
    encoded = quote(json.dumps(panes, separators=(",", ":")), safe="")
    encoded = encoded.replace(quote("$__from", safe=""), "${__from}").replace(quote("$__to", safe=""), "${__to}")
    return "/explore?schemaVersion=1&orgId=1&panes=" + encoded.replace(marker, service)


def trace_link_by_job() -> list[dict]:
    """Data link on series that carry a `job` label: click a point, see that service's traces."""
    return [{"title": "Traces of ${__field.labels.job} in Jaeger", "url": jaeger_explore_url("${__field.labels.job}")}]


def trace_link(service: str) -> list[dict]:
    return [{"title": f"Traces of {service} in Jaeger", "url": jaeger_explore_url(service)}]


# --- panels ------------------------------------------------------------------------------------


def target(expr: str, legend: str = "", ref: str = "A", *, instant: bool = False, exemplar: bool = False) -> dict:
    return {
        "datasource": PROM,
        "editorMode": "code",
        "expr": expr,
        "legendFormat": legend or "__auto",
        "range": not instant,
        "instant": instant,
        "exemplar": exemplar,
        "refId": ref,
    }


def targets(*specs: tuple) -> list[dict]:
    """targets(("expr", "legend"), ...) with refIds A, B, C, ..."""
    return [target(*spec, ref=chr(ord("A") + index)) for index, spec in enumerate(specs)]


def timeseries(title: str, description: str, unit: str, tgts: list[dict], *, links=None, bars=False,
               stack=False, minimum=0, maximum=None, w=12, h=8) -> dict:
    defaults = {
        "unit": unit,
        "color": {"mode": "palette-classic"},
        "custom": {
            "drawStyle": "bars" if bars else "line",
            "lineWidth": 1,
            "fillOpacity": 80 if bars else 10,
            "showPoints": "never",
            "spanNulls": False,
            "stacking": {"mode": "normal" if stack else "none", "group": "A"},
        },
        "links": links or [],
    }
    if minimum is not None:
        defaults["min"] = minimum
    if maximum is not None:
        defaults["max"] = maximum
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": PROM,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "legend": {"showLegend": True, "displayMode": "list", "placement": "bottom", "calcs": []},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        "targets": tgts,
        "_size": (w, h),
    }


UP_DOWN = [
    {"type": "value", "options": {"0": {"text": "DOWN", "color": "red", "index": 0},
                                  "1": {"text": "UP", "color": "green", "index": 1}}}
]
ON_OFF = [
    {"type": "value", "options": {"0": {"text": "off", "color": "dark-blue", "index": 0},
                                  "1": {"text": "on", "color": "yellow", "index": 1}}}
]


def stat(title: str, description: str, unit: str, tgts: list[dict], *, mappings=None, thresholds=None,
         links=None, w=6, h=5) -> dict:
    steps = thresholds or [{"color": "green", "value": None}]
    return {
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": PROM,
        "fieldConfig": {
            "defaults": {
                "unit": unit,
                "mappings": mappings or [],
                "thresholds": {"mode": "absolute", "steps": steps},
                "color": {"mode": "thresholds"},
                "links": links or [],
            },
            "overrides": [],
        },
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "background",
            "graphMode": "none",
            "textMode": "value_and_name",
            "justifyMode": "auto",
            "orientation": "auto",
        },
        "targets": tgts,
        "_size": (w, h),
    }


def state_timeline(title: str, description: str, tgts: list[dict], mappings: list[dict], *, w=12, h=8) -> dict:
    return {
        "type": "state-timeline",
        "title": title,
        "description": description,
        "datasource": PROM,
        "fieldConfig": {
            "defaults": {
                "unit": "none",
                "mappings": mappings,
                "thresholds": {"mode": "absolute", "steps": [{"color": "text", "value": None}]},
                "color": {"mode": "thresholds"},
                "custom": {"fillOpacity": 80, "lineWidth": 0},
            },
            "overrides": [],
        },
        "options": {
            "mergeValues": True,
            "showValue": "auto",
            "alignValue": "left",
            "rowHeight": 0.9,
            "legend": {"showLegend": False, "displayMode": "list", "placement": "bottom"},
            "tooltip": {"mode": "single", "sort": "none"},
        },
        "targets": tgts,
        "_size": (w, h),
    }


def table(title: str, description: str, tgts: list[dict], *, w=12, h=8) -> dict:
    return {
        "type": "table",
        "title": title,
        "description": description,
        "datasource": PROM,
        "fieldConfig": {"defaults": {"unit": "none", "custom": {"align": "auto"}}, "overrides": []},
        "options": {"showHeader": True, "cellHeight": "sm"},
        "transformations": [
            {"id": "organize", "options": {"excludeByName": {"Time": True}, "renameByName": {"Value": "firing"}}}
        ],
        "targets": tgts,
        "_size": (w, h),
    }


# --- shared panel groups -------------------------------------------------------------------------


def red_panels(job: str) -> list[dict]:
    """Rate, errors, duration and saturation of one service's HTTP server (crates/telemetry)."""
    sel = f'job="{job}"'
    errors = f'{sel}, http_response_status_code=~"5.."'
    return [
        timeseries(
            "Requests per second by route and status",
            f"HTTP requests {job} answered per second, by route template and status code "
            "(http_server_request_duration_seconds_count). /metrics, /healthz and /readyz are not counted.",
            "reqps",
            targets((f"sum by (http_route, http_response_status_code) (rate({HTTP}_count{{{sel}}}[{RI}]))",
                     "{{http_route}} {{http_response_status_code}}")),
            links=trace_link(job),
        ),
        timeseries(
            "Error ratio (5xx)",
            f"Share of {job}'s responses that are 5xx. 0 when there are no errors; empty only without traffic. "
            "Alert HighHttp5xxRatio fires above 5% for 5m.",
            "percentunit",
            targets((f"(sum(rate({HTTP}_count{{{errors}}}[{RI}])) or on() vector(0))"
                     f" / sum(rate({HTTP}_count{{{sel}}}[{RI}]))", "5xx ratio")),
            maximum=1,
            links=trace_link(job),
        ),
        timeseries(
            "Latency percentiles",
            f"p50/p90/p95/p99 of {job}'s request duration, from the histogram buckets. Dots are exemplars: "
            "click one to open that request's trace. Alert HighLatencyP95 fires when p95 > 500ms for 10m.",
            "s",
            [target(f"histogram_quantile({q}, sum by (le) (rate({HTTP}_bucket{{{sel}}}[{RI}])))",
                    f"p{round(q * 100)}", chr(ord("A") + i), exemplar=(q == 0.95))
             for i, q in enumerate((0.5, 0.9, 0.95, 0.99))],
            links=trace_link(job),
        ),
        timeseries(
            "Requests under 250 ms",
            f"Share of {job}'s requests answered within 250 ms (the le=0.25 bucket over the count): an SLI.",
            "percentunit",
            targets((f'sum(rate({HTTP}_bucket{{{sel}, le="0.25"}}[{RI}])) / sum(rate({HTTP}_count{{{sel}}}[{RI}]))',
                     "under 250 ms")),
            maximum=1,
        ),
        timeseries(
            "In-flight requests",
            f"Requests {job} is handling right now, by route (http_server_active_requests).",
            "none",
            targets((f"sum by (http_route) (http_server_active_requests{{{sel}}})", "{{http_route}}")),
        ),
        timeseries(
            "CPU",
            f"CPU used by {job}'s process, as a fraction of one core (rate of process_cpu_seconds_total).",
            "percentunit",
            targets((f"sum(rate(process_cpu_seconds_total{{{sel}}}[{RI}]))", "CPU")),
        ),
        timeseries(
            "Resident memory",
            f"Resident set size of {job}'s process (process_resident_memory_bytes).",
            "bytes",
            targets((f"sum(process_resident_memory_bytes{{{sel}}})", "resident memory")),
        ),
    ]


# --- dashboards --------------------------------------------------------------------------------


def layout(panels: list[dict]) -> list[dict]:
    """Left-to-right, top-to-bottom placement; ids in order (unique per dashboard)."""
    x = y = row_h = 0
    for index, panel in enumerate(panels, start=1):
        w, h = panel.pop("_size")
        if x + w > 24:
            x, y, row_h = 0, y + row_h, 0
        panel["id"] = index
        panel["gridPos"] = {"x": x, "y": y, "w": w, "h": h}
        x, row_h = x + w, max(row_h, h)
    return panels


def dashboard(uid: str, title: str, description: str, panels: list[dict], *, variables=None, links=None) -> dict:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": [TAG],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,  # shared crosshair: line up a latency spike with CPU, Redis, ...
        "refresh": "10s",
        "time": {"from": "now-30m", "to": "now"},
        "timepicker": {},
        "fiscalYearStartMonth": 0,
        "schemaVersion": 39,
        "version": 1,
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": GRAFANA,
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "links": [
            {"title": "Dashboards", "type": "dashboards", "tags": [TAG], "asDropdown": True,
             "includeVars": False, "keepTime": True, "icon": "external link", "targetBlank": False},
            *(links or []),
        ],
        "templating": {"list": variables or []},
        "panels": layout(panels),
    }


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


def web_flask_equivalent() -> dict:
    job = "web-flask-equivalent"
    panels = [
        timeseries("Visits per second", "Seed 000's panel: rate of hello_world_counter, the visits answered "
                   "with 'Visit number N'.", "reqps",
                   targets((f'sum(rate(hello_world_counter{{job="{job}"}}[{RI}]))', "visits/s")),
                   links=trace_link(job), w=18),
        stat("Visits since start", "hello_world_counter: visits answered since the process started "
             "(the N of the last 'Visit number N').", "none",
             targets((f'sum(hello_world_counter{{job="{job}"}})', "visits")), w=6, h=8),
        *red_panels(job),
    ]
    return dashboard("ors-web-flask-equivalent", "web-flask-equivalent",
                     "Seed 000's Flask app in Rust: visits per second and its HTTP RED metrics.", panels)


def redis_counter() -> dict:
    job = "redis-counter"
    sel = f'job="{job}"'
    panels = [
        timeseries("Hits per second", "Increments acknowledged with 200 (hits_total): "
                   "every one of them is durable in Redis.", "ops",
                   targets((f"sum(rate(hits_total{{{sel}}}[{RI}]))", "hits/s")), links=trace_link(job)),
        stat("Redis up", "redis_exporter's view of Redis (redis_up). Alert RedisDown fires after 1m down; "
             "redis-counter then answers 503 and recovers by itself.", "none",
             targets(("max(redis_up)", "redis")), mappings=UP_DOWN,
             thresholds=[{"color": "red", "value": None}, {"color": "green", "value": 1}], w=6, h=8),
        stat("Client errors (rate)", "Redis client errors per second seen by redis-counter, all kinds "
             "(connection, timeout, pool, response); 0 when there are none.", "ops",
             targets((f"sum(rate(redis_client_errors_total{{{sel}}}[{RI}])) or on() vector(0)", "errors/s")),
             thresholds=[{"color": "green", "value": None}, {"color": "red", "value": 0.001}], w=6, h=8),
        timeseries("Redis command latency p50 / p99", "Client-side duration of each Redis command "
                   "(redis_client_command_duration_seconds), by command.", "s",
                   [target(f"histogram_quantile({q}, sum by (command, le) "
                           f"(rate(redis_client_command_duration_seconds_bucket{{{sel}}}[{RI}])))",
                           f"{{{{command}}}} p{round(q * 100)}", chr(ord("A") + i))
                    for i, q in enumerate((0.5, 0.99))], links=trace_link(job)),
        timeseries("Redis commands per second by outcome", "Commands redis-counter sent, by command and "
                   "outcome (ok, error).", "ops",
                   targets((f"sum by (command, outcome) (rate(redis_client_command_duration_seconds_count{{{sel}}}[{RI}]))",
                            "{{command}} {{outcome}}"))),
        timeseries("Client errors by kind", "Redis client errors per second by kind; 0 when there are none.",
                   "ops",
                   targets((f"sum by (kind) (rate(redis_client_errors_total{{{sel}}}[{RI}])) or on() vector(0)",
                            "{{kind}}")), bars=True),
        timeseries("Connection pool", "Redis connections open (size), not being handed out this instant "
                   "(available) and requests waiting for one (waiting > 0: connecting to Redis is slow or "
                   "failing). Requests share the connections, so size stays small.", "none",
                   targets((f"sum(redis_client_pool_size{{{sel}}})", "size"),
                           (f"sum(redis_client_pool_available{{{sel}}})", "available"),
                           (f"sum(redis_client_pool_waiting{{{sel}}})", "waiting"))),
        timeseries("Redis memory used", "Memory used by Redis (redis_exporter: redis_memory_used_bytes).", "bytes",
                   targets(("sum by (instance) (redis_memory_used_bytes)", "{{instance}}"))),
        timeseries("Redis connected clients", "Client connections to Redis (redis_exporter), including "
                   "redis-counter's pool and the exporter itself.", "none",
                   targets(("sum by (instance) (redis_connected_clients)", "{{instance}}"))),
        timeseries("Redis server commands per second", "Commands Redis processed, from every client "
                   "(redis_exporter: redis_commands_processed_total).", "ops",
                   targets((f"sum by (instance) (rate(redis_commands_processed_total[{RI}]))", "{{instance}}"))),
        *red_panels(job),
    ]
    return dashboard("ors-redis-counter", "redis-counter",
                     "Seeds 001/002's hit counter: hits, Redis client latency and pool, Redis itself, HTTP RED.",
                     panels)


def robot_control() -> dict:
    job = "robot-control"
    sel = f'job="{job}"'
    panels = [
        timeseries("Commands per second by robot and command", "Drive, servo, PWM and eye commands "
                   "(robot_commands_total) for Linus and Torvalds.", "ops",
                   targets((f"sum by (robot, command) (rate(robot_commands_total{{{sel}}}[{RI}]))",
                            "{{robot}} {{command}}")), links=trace_link(job)),
        state_timeline("Eye state", "Each robot's eye LED over time (robot_eye_on). Every change is a "
                       "linus-eye / torvalds-eye span in Jaeger.",
                       targets((f"max by (robot) (robot_eye_on{{{sel}}})", "{{robot}}")), ON_OFF),
        timeseries("Motor speed (PWM duty)", "Motor PWM duty cycle per robot (robot_motor_speed, 0..1; "
                   "the seed's /thirty /fifty /full).", "percentunit",
                   targets((f"max by (robot) (robot_motor_speed{{{sel}}})", "{{robot}}")), maximum=1),
        timeseries("Servo position", "Servo angle per robot and servo (robot_servo_position_degrees, -90..90).",
                   "degree",
                   targets((f"max by (robot, servo) (robot_servo_position_degrees{{{sel}}})", "{{robot}} servo {{servo}}")),
                   minimum=-90, maximum=90),
        timeseries("Deadman stops", "Motors stopped because no drive command arrived in time "
                   "(robot_deadman_stops_total, per rate interval); 0 when there are none.", "none",
                   targets((f"sum by (robot) (increase(robot_deadman_stops_total{{{sel}}}[{RI}])) or on() vector(0)",
                            "{{robot}}")), bars=True, w=8),
        timeseries("Driver errors", "Errors from the robot driver (robot_driver_errors_total, per rate "
                   "interval): pigpio daemon unreachable or refusing. Alert RobotDriverErrors. 0 when none.", "none",
                   targets((f"sum by (robot) (increase(robot_driver_errors_total{{{sel}}}[{RI}])) or on() vector(0)",
                            "{{robot}}")), bars=True, links=trace_link(job), w=8),
        timeseries("Requests refused", "Requests the access policy refused (robot_requests_refused_total, per "
                   "rate interval) by reason: host (a Host name not its own: DNS rebinding, or a name missing "
                   "from ALLOWED_HOSTS), token (ROBOT_TOKEN missing or wrong), not_from_ui (a robot command "
                   "without the UI key or the bearer token: a web page elsewhere, or a UI open across a "
                   "restart), cross_site (the browser said so). A few after a restart are normal; a steady "
                   "stream is someone trying. Alert RobotRequestsRefused.", "none",
                   targets((f"sum by (reason) (increase(robot_requests_refused_total{{{sel}}}[{RI}]))",
                            "{{reason}}")), bars=True, stack=True, w=8),
        *red_panels(job),
    ]
    return dashboard("ors-robot-control", "robot-control",
                     "Seed 004's robots Linus and Torvalds: commands, eyes, motors, servos, safety stops, driver "
                     "errors, refused requests, and the service's HTTP RED metrics.", panels)


def url_prober() -> dict:
    job = "url-prober"
    panels = [
        stat("URLs down", "Configured URLs whose last probe failed (sample_external_url_up == 0). "
             "Alert ProbedUrlDown fires after 3m.", "none",
             targets(("count(sample_external_url_up == 0) or on() vector(0)", "down")),
             thresholds=[{"color": "green", "value": None}, {"color": "red", "value": 1}], w=6, h=8),
        state_timeline("Up per URL", "Seed 003's sum by (url) (sample_external_url_up): 1 when the last probe "
                       "answered 2xx in time, 0 on timeout, error or non-2xx.",
                       targets(("sum by (url) (sample_external_url_up)", "{{url}}")), UP_DOWN, w=18),
        timeseries("Response time per URL", "Seed 003's sum by (url) (sample_external_url_response_ms): "
                   "duration of the last probe of each URL.", "ms",
                   targets(("sum by (url) (sample_external_url_response_ms)", "{{url}}")), links=trace_link(job)),
        # 5m windows, not $__rate_interval: a URL is probed only every query_interval_in_seconds (15s),
        # so a 20s window would often contain no probe and show gaps.
        timeseries("Probe duration p95 per URL (5m)", "95th percentile of probe_duration_seconds per URL over "
                   "the last 5 minutes (probes run every 15s, so shorter windows hold too few probes).", "s",
                   targets(("histogram_quantile(0.95, sum by (url, le) (rate(probe_duration_seconds_bucket[5m])))",
                            "{{url}}"))),
        timeseries("Probe results per URL (5m)", "Probe outcomes over the last 5 minutes by URL and result "
                   "(up, timeout, connect_error, dns_error, unexpected_status, error).", "none",
                   targets(("sum by (url, result) (increase(probe_results_total[5m]))", "{{url}} {{result}}")),
                   stack=True),
        timeseries("Requests per second (prober's own API)", "Requests to url-prober's own routes "
                   "(/healthcheck, /queryurl) by route and status; 0 when nobody asks.", "reqps",
                   targets((f'sum by (http_route, http_response_status_code) (rate({HTTP}_count{{job="{job}"}}[{RI}]))'
                            " or on() vector(0)", "{{http_route}} {{http_response_status_code}}")),
                   links=trace_link(job)),
    ]
    return dashboard("ors-url-prober", "url-prober",
                     "Seed 003's URL prober: is each configured URL up, and how fast does it answer.", panels)


def infrastructure() -> dict:
    compose = "container_label_com_docker_compose_service"
    csel = f'{compose}!=""'
    fs = 'fstype!~"tmpfs|ramfs|squashfs|nsfs"'
    panels = [
        stat("Targets up", "Every scrape target of Prometheus by job (up). Alert TargetDown fires after 1m down.",
             "none", targets(("min by (job) (up)", "{{job}}")), mappings=UP_DOWN,
             thresholds=[{"color": "red", "value": None}, {"color": "green", "value": 1}], w=24, h=5),
        stat("Firing alerts", "Number of alerts firing now (ALERTS{alertstate=\"firing\"}); 0 when none.",
             "none", targets(('count(ALERTS{alertstate="firing"}) or on() vector(0)', "firing")),
             thresholds=[{"color": "green", "value": None}, {"color": "red", "value": 1}], w=6, h=8),
        table("Firing alerts by name, severity and job", "The alerts firing now; a single row with value 0 "
              "when none. Details and silences: Alertmanager (http://localhost:9093).",
              [target('sum by (alertname, severity, job) (ALERTS{alertstate="firing"}) or on() vector(0)',
                      ref="A", instant=True) | {"format": "table"}], w=18),
        timeseries("Scrape duration by job", "How long Prometheus takes to scrape each job; close to the 4s "
                   "timeout means the target is overloaded or its /metrics too large.", "s",
                   targets(("max by (job) (scrape_duration_seconds)", "{{job}}"))),
        timeseries("Host load per CPU", "node_load1 / CPU count per host. Alert HighHostLoad fires above 1.5 "
                   "for 5m.", "none",
                   targets(("node_load1 / on (job, instance) count by (job, instance) (node_cpu_seconds_total{mode=\"idle\"})",
                            "{{instance}} load1/CPU"))),
        timeseries("Host load average", "1, 5 and 15-minute load averages (node-exporter).", "none",
                   targets(("node_load1", "{{instance}} 1m"), ("node_load5", "{{instance}} 5m"),
                           ("node_load15", "{{instance}} 15m"))),
        timeseries("Host memory used", "Share of host memory not available to new processes "
                   "(1 - MemAvailable / MemTotal).", "percentunit",
                   targets(("1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes", "{{instance}}")),
                   maximum=1),
        timeseries("Host filesystem used", "Share of each real filesystem in use (tmpfs and the like excluded).",
                   "percentunit",
                   targets((f"1 - node_filesystem_avail_bytes{{{fs}}} / node_filesystem_size_bytes{{{fs}}}",
                            "{{instance}} {{mountpoint}}")), maximum=1),
        timeseries("Container CPU (cAdvisor)", "CPU per Compose service's container, as a fraction of one core "
                   "(cAdvisor; Docker only).", "percentunit",
                   targets((f"sum by ({compose}) (rate(container_cpu_usage_seconds_total{{{csel}}}[{RI}]))",
                            f"{{{{{compose}}}}}"))),
        timeseries("Container memory (cAdvisor)", "Memory per Compose service's container (cAdvisor "
                   "container_memory_usage_bytes, page cache included).", "bytes",
                   targets((f"sum by ({compose}) (container_memory_usage_bytes{{{csel}}})", f"{{{{{compose}}}}}"))),
        timeseries("Container memory vs limit (cAdvisor)", "Memory use over the container's limit; containers "
                   "without a limit are left out. Alert ContainerMemoryNearLimit fires above 80% for 10m.",
                   "percentunit",
                   targets((f"max by ({compose}) (container_memory_usage_bytes{{{csel}}}"
                            f" / (container_spec_memory_limit_bytes{{{csel}}} > 0))", f"{{{{{compose}}}}}")),
                   maximum=1),
        timeseries("Container network received (cAdvisor)", "Bytes per second received per Compose service's "
                   "container (cAdvisor).", "Bps",
                   targets((f"sum by ({compose}) (rate(container_network_receive_bytes_total{{{csel}}}[{RI}]))",
                            f"{{{{{compose}}}}}"))),
    ]
    return dashboard("ors-infrastructure", "Infrastructure",
                     "Scrape targets, firing alerts, host (node-exporter) and containers (cAdvisor).", panels,
                     links=[{"title": "Alertmanager", "type": "link", "url": "http://localhost:9093",
                             "targetBlank": True, "icon": "bolt", "tags": [], "asDropdown": False,
                             "includeVars": False, "keepTime": False}])


def slo_dashboard() -> dict:
    """Error budgets and burn rates of the objectives in deploy/slo, from the recording rules the SLO
    generator writes (deploy/slo/slo.py): the objectives are read from there, never written here."""
    sys.path.insert(0, str(ROOT / "deploy/slo"))
    import slo as slo_spec  # needs PyYAML, like the rest of deploy/check.sh

    services = slo_spec.load()
    period = next(iter(services.values()))[0].period
    factors = {pair: slo_spec.num(pair.factor(period)) for pair in slo_spec.PAIRS}
    objectives = {kind: ", ".join(f"{slo.service} {slo_spec.num(slo.objective)}%" + (
        f" within {slo_spec.num(slo.threshold * 1000)} ms" if slo.threshold else "")
        for slos in services.values() for slo in slos if slo.kind == kind) for kind in slo_spec.KINDS}
    burn_steps = [{"color": "green", "value": None}, {"color": "yellow", "value": 1}]
    burn_steps += [{"color": "orange" if pair.severity == "ticket" else "red", "value": float(pair.factor(period))}
                   for pair in sorted(slo_spec.PAIRS, key=lambda p: p.factor(period)) if pair.factor(period) > 1]
    budget_steps = [{"color": "red", "value": None}, {"color": "orange", "value": 0}, {"color": "green", "value": 0.25}]
    pairs_text = "; ".join(f"{pair.severity} above {factors[pair]}x over {pair.long.name} and {pair.short.name}"
                           for pair in slo_spec.PAIRS)
    service_var = overview_service_variable() | {
        "query": {"query": "label_values(slo:objective:ratio, job)", "refId": "service"},
        "definition": "label_values(slo:objective:ratio, job)",
        "multi": False,
        "includeAll": False,
        "current": {"selected": True, "text": sorted(services)[0], "value": sorted(services)[0]},
        "description": "A service with objectives in deploy/slo (slo:objective:ratio is recorded for each).",
    }

    def sel(kind: str) -> str:
        return f'job="$service", slo="{kind}"'

    def with_thresholds(panel: dict, steps: list[dict]) -> dict:
        panel["fieldConfig"]["defaults"]["thresholds"] = {"mode": "absolute", "steps": steps}
        panel["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"] = {"mode": "line"}
        return panel

    def decimals(panel: dict, places: int) -> dict:
        panel["fieldConfig"]["defaults"]["decimals"] = places
        return panel

    panels = [
        decimals(stat(
            f"Error budget remaining ({period.name}), every SLO",
            f"Share of each SLO's {period.name} error budget not yet spent "
            "(slo:period_error_budget_remaining:ratio): 100% untouched, 0 spent, below 0 overspent. "
            f"Objectives: availability {objectives['availability']}; latency {objectives['latency']}.",
            "percentunit", targets(("slo:period_error_budget_remaining:ratio", "{{job}} {{slo}}")),
            thresholds=budget_steps, w=24, h=5), 1),
        decimals(stat(
            "Burn rate over 1h, every SLO",
            "How fast each SLO spends its error budget over the last hour: 1 spends exactly the budget over "
            f"{period.name}; the alerts: {pairs_text}.", "none",
            targets(("slo:sli_error:ratio_rate1h / on (job, slo) slo:error_budget:ratio", "{{job}} {{slo}}")),
            thresholds=burn_steps, w=24, h=5), 1),
    ]
    stats, burns, budgets, slis = [], [], [], []
    for kind in slo_spec.KINDS:
        title = kind.capitalize()
        good = "not 5xx" if kind == "availability" else "answered within the latency threshold"
        stats += [
            decimals(stat(
                f"{title}: SLI over {period.name}",
                f"Share of $service's requests {good} over the last {period.name} "
                f"(1 - slo:sli_error:ratio_rate{period.name}), next to the objective. Objectives: {objectives[kind]}.",
                "percentunit", targets((f"1 - slo:sli_error:ratio_rate{period.name}{{{sel(kind)}}}", "SLI"),
                                       (f"slo:objective:ratio{{{sel(kind)}}}", "objective")), w=6), 3),
            decimals(stat(
                f"{title}: error budget remaining",
                f"Share of $service's {kind} error budget ({period.name}) not yet spent; below 0: overspent.",
                "percentunit", targets((f"slo:period_error_budget_remaining:ratio{{{sel(kind)}}}", "remaining")),
                thresholds=budget_steps, w=6), 1),
        ]
        burns.append(with_thresholds(timeseries(
            f"{title}: burn rate per window",
            f"$service's {kind} error ratio over each window divided by its error budget "
            f"(slo:sli_error:ratio_rate<window> / slo:error_budget:ratio). Lines: 1 = on budget, then the "
            f"alert factors ({pairs_text}). An alert needs its long and its short window above the line.",
            "none",
            [target(f"slo:sli_error:ratio_rate{w.name}{{{sel(kind)}}} / on (job, slo) slo:error_budget:ratio{{{sel(kind)}}}",
                    w.name, chr(ord("A") + i)) for i, w in enumerate(slo_spec.WINDOWS)]), burn_steps))
        budgets.append(with_thresholds(timeseries(
            f"{title}: error budget remaining over time",
            f"The trend of $service's remaining {kind} error budget over the rolling {period.name}: a steady "
            "slope down is a slow burn (tickets), a cliff a fast one (pages).", "percentunit",
            targets((f"slo:period_error_budget_remaining:ratio{{{sel(kind)}}}", "remaining")), minimum=None),
            budget_steps))
        slis.append(timeseries(
            f"{title}: SLI over 5m and 1h, and the objective",
            f"Share of $service's requests {good}, over the last 5 minutes and hour "
            "(1 - slo:sli_error:ratio_rate5m / 1h), and the objective (slo:objective:ratio). "
            "1 when there was no request.", "percentunit",
            targets((f"1 - slo:sli_error:ratio_rate5m{{{sel(kind)}}}", "5m"),
                    (f"1 - slo:sli_error:ratio_rate1h{{{sel(kind)}}}", "1h"),
                    (f"slo:objective:ratio{{{sel(kind)}}}", "objective")), minimum=None, maximum=1))
    panels += stats + burns + budgets + slis
    board = dashboard("ors-slo", "SLOs: error budgets",
                      f"Service level objectives (deploy/slo): per service and SLO, the SLI, the burn rate per "
                      f"window, the {period.name} error budget left and its trend. Alerts: {pairs_text}.",
                      panels, variables=[service_var])
    board["time"] = {"from": "now-7d", "to": "now"}
    return board


def red_from_spans() -> dict:
    """RED metrics Jaeger's spanmetrics connector derives from every span (deploy/jaeger/config.yml).

    Metric names: the connector (OpenTelemetry Collector contrib v0.153.0, in Jaeger 2.19.0) emits
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


DASHBOARDS = {
    "overview.json": overview,
    "web-flask-equivalent.json": web_flask_equivalent,
    "redis-counter.json": redis_counter,
    "robot-control.json": robot_control,
    "url-prober.json": url_prober,
    "infrastructure.json": infrastructure,
    "slo.json": slo_dashboard,
    "red-from-spans.json": red_from_spans,
}


def render() -> dict[str, str]:
    return {name: json.dumps(build(), indent=2, ensure_ascii=False) + "\n" for name, build in DASHBOARDS.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if dashboards/*.json differ from the generator")
    args = parser.parse_args()
    stale = []
    for name, text in render().items():
        path = OUT / name
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            OUT.mkdir(exist_ok=True)
            path.write_text(text)
    if stale:
        print(f"dashboards out of date: {', '.join(stale)}; run: python3 deploy/grafana/dashboards.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
