"""The dashboards of our services, one each (web-flask-equivalent, redis-counter, robot-control,
url-prober): their own metrics first, then the RED panels every HTTP service shares."""

from __future__ import annotations

from .panels import HTTP, ON_OFF, RI, UP_DOWN, dashboard, stat, state_timeline, target, targets, timeseries
from .trace_links import trace_link


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
        latency_panel(job),
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


def latency_panel(job: str, title: str = "Latency percentiles", what: str = "request duration") -> dict:
    """p50/p90/p95/p99 of one service's HTTP server (http_server_request_duration_seconds) from the
    classic buckets, exemplars on p95, and the same p95 from the native histogram beside them (schema
    3, crates/telemetry/src/metrics/http_metrics.rs; prometheus.yml keeps both)."""
    sel = f'job="{job}"'
    return timeseries(
        title,
        f"p50/p90/p95/p99 of {job}'s {what}, from the classic histogram buckets (what the "
        "alerts and SLOs use). Dots are exemplars: click one to open that request's trace. Alert "
        "HighLatencyP95 fires when p95 > 500ms for 10m. \"p95 native\" is the same p95 from the native "
        "histogram (schema 3: within about ±4.3 %, where the classic estimate can be off by the width "
        "of a bucket, 0.25 s around 0.5 s).",
        "s",
        [target(f"histogram_quantile({q}, sum by (le) (rate({HTTP}_bucket{{{sel}}}[{RI}])))",
                f"p{round(q * 100)}", chr(ord("A") + i), exemplar=(q == 0.95))
         for i, q in enumerate((0.5, 0.9, 0.95, 0.99))]
        + [target(f"histogram_quantile(0.95, sum(rate({HTTP}{{{sel}}}[{RI}])))", "p95 native", "E")],
        links=trace_link(job),
    )


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
                       "linus-eye / torvalds-eye span in Jaeger (tags robot.name, robot.eye.on; "
                       "error.type when the driver failed).",
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
        # probe_duration_seconds has classic buckets only: url-prober renders it as text itself (its
        # series must be deletable), and only the HTTP layer's duration family carries native buckets.
        timeseries("Probe duration p95 per URL (5m)", "95th percentile of probe_duration_seconds per URL over "
                   "the last 5 minutes (probes run every 15s, so shorter windows hold too few probes). From "
                   "its classic buckets (0.005 s to 60 s): this client-side histogram has no native one.", "s",
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
        latency_panel(job, "Latency percentiles (prober's own API)",
                      "own routes' request duration (/healthcheck, /queryurl; empty when nobody asks)"),
    ]
    return dashboard("ors-url-prober", "url-prober",
                     "Seed 003's URL prober: is each configured URL up, and how fast does it answer.", panels)
