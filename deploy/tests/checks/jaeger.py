"""deploy/jaeger/config.yml against Jaeger 2.12.0's own components and the rest of the stack: OTLP in
-> traces pipeline -> the spanmetrics connector (every span) and, through tail sampling, trace storage;
spanmetrics -> Prometheus exporter -> a scrape job -> jaeger_query's metrics storage (the Monitor tab)
and the RED-from-spans dashboard (`jaeger`).

A fast lint of what ties the file to the rest of the repository (Compose ports, scrape jobs, the
dashboard's metric names). Whether Jaeger itself accepts the file, and whether each link carries data,
is proven by the live stack test on the pinned Jaeger (crates/stack-tests/tests/live_stack)."""

from __future__ import annotations

import json
import re

import yaml

from .common import ROOT, Problems, all_panels, compose, container_ports, job_targets, scrape_configs


JAEGER_CONFIG = ROOT / "deploy/jaeger/config.yml"
# Component types linked into Jaeger 2.12.0 (module v1.75.0, cmd/jaeger/internal/components.go).
JAEGER_COMPONENTS = {
    "extensions": {"jaeger_storage", "jaeger_query", "remote_sampling", "remote_storage", "healthcheckv2",
                   "pprof", "zpages", "expvar", "sigv4auth", "storage_cleaner"},
    "receivers": {"otlp", "nop", "jaeger", "kafka", "zipkin"},
    "processors": {"batch", "memory_limiter", "tail_sampling", "adaptive_sampling", "attributes", "filter"},
    "exporters": {"debug", "otlp", "otlphttp", "nop", "jaeger_storage_exporter", "kafka", "prometheus"},
    "connectors": {"forward", "spanmetrics"},
}
# Assumed upper bound of one of our traces in Jaeger's memory store (a few spans, a few dozen attributes).
BYTES_PER_TRACE = 10 * 1024


def mem_limit_bytes(text: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([kmg]?)b?", str(text).lower()).groups()
    return int(number) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit]


def spanmetrics_prometheus_names(connector: dict) -> tuple[str, str]:
    """The names the prometheus exporter gives the spanmetrics connector's `calls` and `duration`:
    the namespace (connector default traces.span.metrics) prefixed with dots as underscores, `_total`
    for the monotonic sum, the unit (default ms) spelt out for the histogram."""
    namespace = (connector or {}).get("namespace", "traces.span.metrics").replace(".", "_")
    unit = ((connector or {}).get("histogram") or {}).get("unit", "ms")
    return f"{namespace}_calls_total", f"{namespace}_duration_{ {'ms': 'milliseconds', 's': 'seconds'}[unit]}"


def jaeger_spm_names(backend: dict) -> tuple[str, str]:
    """The names Jaeger's Monitor tab queries (internal/storage/metricstore/prometheus/metricstore/reader.go,
    buildFullCallsMetricName / buildFullLatencyMetricName; defaults in .../prometheus/options.go)."""
    namespace = backend.get("metric_namespace", "traces_span_metrics")
    unit = backend.get("latency_unit", "ms")
    calls = f"{namespace}_calls" + ("_total" if backend.get("normalize_calls") else "")
    duration = f"{namespace}_duration" + (f"_{ {'ms': 'milliseconds', 's': 'seconds'}[unit]}"
                                          if backend.get("normalize_duration") else "")
    return calls, duration


def endpoint_port(endpoint: str) -> int:
    return int(str(endpoint).rsplit(":", 1)[1])


def check_jaeger(problems: Problems) -> str:
    if not JAEGER_CONFIG.exists():
        problems.append(f"jaeger: {JAEGER_CONFIG.relative_to(ROOT)} is missing: Jaeger runs its built-in config "
                        "(no spanmetrics, no metrics storage: the Monitor tab is empty)")
        return "no config"
    text = JAEGER_CONFIG.read_text()
    config = yaml.safe_load(text)
    # The collector expands ${env:NAME:-default}: each such variable is one Compose hands the container.
    compose_environment = compose()["services"].get("jaeger", {}).get("environment") or {}
    for expansion in re.findall(r"\$\{[^}]*\}", text):
        match = re.fullmatch(r"\$\{env:([A-Z_]+):-[^}]+\}", expansion)
        problems.check(match is not None, f"jaeger config: {expansion}: only ${{env:NAME:-default}} is expected")
        problems.check(match is not None and match.group(1) in compose_environment,
                       f"jaeger config: {expansion}: docker-compose.yml's jaeger does not pass that variable")
    service = config.get("service", {})
    pipelines = service.get("pipelines", {})
    defined = {kind: set((config.get(kind) or {}).keys()) for kind in JAEGER_COMPONENTS}
    for kind, ids in defined.items():
        for component in ids:
            problems.check(component.split("/")[0] in JAEGER_COMPONENTS[kind],
                           f"jaeger config: {kind}.{component}: no such component in Jaeger 2.12.0")
    for extension in service.get("extensions", []):
        problems.check(extension in defined["extensions"], f"jaeger config: service.extensions names undefined {extension}")
    for needed in ("jaeger_storage", "jaeger_query", "healthcheckv2"):
        problems.check(needed in service.get("extensions", []), f"jaeger config: extension {needed} is not enabled")
    for name, pipeline in pipelines.items():
        for role, kinds in (("receivers", ("receivers", "connectors")), ("processors", ("processors",)),
                            ("exporters", ("exporters", "connectors"))):
            for component in pipeline.get(role, []):
                problems.check(any(component in defined[k] for k in kinds),
                               f"jaeger config: pipeline {name} {role} names undefined {component}")
    ext = config.get("extensions", {})
    # 1. OTLP in on every interface of the container (our services send to jaeger:4317).
    otlp = (config.get("receivers", {}).get("otlp") or {}).get("protocols") or {}
    problems.check((otlp.get("grpc") or {}).get("endpoint") == "0.0.0.0:4317", "jaeger config: OTLP gRPC not on 0.0.0.0:4317")
    problems.check((otlp.get("http") or {}).get("endpoint") == "0.0.0.0:4318", "jaeger config: OTLP HTTP not on 0.0.0.0:4318")
    # 2. OTLP -> traces pipeline -> the spanmetrics connector (before any sampling, so RED from spans
    #    counts every span) and, directly or through forward connectors, trace storage.
    traces = [p for n, p in pipelines.items() if n.split("/")[0] == "traces" and "otlp" in p.get("receivers", [])]
    problems.check(len(traces) == 1, "jaeger config: no (single) traces pipeline receiving otlp")
    connectors = [c for c in defined["connectors"] if c.split("/")[0] == "spanmetrics"]
    problems.check(len(connectors) == 1, "jaeger config: no (single) spanmetrics connector")
    connector = connectors[0] if connectors else "spanmetrics"
    if traces:
        exporters = traces[0].get("exporters", [])
        problems.check(connector in exporters, f"jaeger config: traces pipeline does not feed {connector}")
        processors = traces[0].get("processors", [])
        problems.check(processors[:1] == ["memory_limiter"], "jaeger config: memory_limiter must come first in traces")
        problems.check(not any(p.split("/")[0] == "tail_sampling" for p in processors),
                       "jaeger config: tail_sampling before the spanmetrics connector: RED from spans would miss spans")
        stored, frontier, seen = False, [traces[0]], set()
        while frontier:
            pipeline = frontier.pop()
            stored |= "jaeger_storage_exporter" in pipeline.get("exporters", [])
            for forward in (e for e in pipeline.get("exporters", []) if e.split("/")[0] == "forward"):
                for name, downstream in pipelines.items():
                    if forward in downstream.get("receivers", []) and name not in seen:
                        seen.add(name)
                        frontier.append(downstream)
        problems.check(stored, "jaeger config: no pipeline reached from the otlp traces pipeline stores traces")
    # 3. connector -> metrics pipeline -> prometheus exporter.
    metrics = [p for n, p in pipelines.items() if n.split("/")[0] == "metrics" and connector in p.get("receivers", [])]
    problems.check(len(metrics) == 1, f"jaeger config: no metrics pipeline receiving from {connector}")
    prom_exporters = [e for e in (metrics[0].get("exporters", []) if metrics else []) if e.split("/")[0] == "prometheus"]
    problems.check(len(prom_exporters) == 1, "jaeger config: the spanmetrics pipeline has no prometheus exporter")
    # 4. exporter -> Compose exposes its port -> a Prometheus job scrapes jaeger:<port>.
    compose_services = compose()["services"]
    jaeger_service = compose_services.get("jaeger", {})
    scraped = {t for job in scrape_configs() for t in job_targets(job)}
    if prom_exporters:
        port = endpoint_port(config["exporters"][prom_exporters[0]]["endpoint"])
        problems.check(port in container_ports(jaeger_service), f"jaeger: Compose does not expose spanmetrics port {port}")
        problems.check(f"jaeger:{port}" in scraped, f"prometheus.yml: no job scrapes the spanmetrics exporter jaeger:{port}")
    telemetry = service.get("telemetry", {}).get("metrics", {}).get("readers", [{}])[0]
    telemetry_port = telemetry.get("pull", {}).get("exporter", {}).get("prometheus", {}).get("port")
    problems.check(f"jaeger:{telemetry_port}" in scraped, f"prometheus.yml: Jaeger's own metrics jaeger:{telemetry_port} not scraped")
    # 5. Prometheus -> jaeger_storage.metric_backends -> jaeger_query.storage.metrics; traces alike.
    storage = ext.get("jaeger_storage", {})
    query_storage = (ext.get("jaeger_query") or {}).get("storage", {})
    backend_name = query_storage.get("metrics")
    backend = ((storage.get("metric_backends") or {}).get(backend_name) or {}).get("prometheus")
    problems.check(backend is not None, f"jaeger config: jaeger_query.storage.metrics {backend_name!r} is no prometheus metric_backends entry")
    backend = backend or {}
    match = re.fullmatch(r"http://([a-z0-9-]+):(\d+)", str(backend.get("endpoint", "")))
    problems.check(match is not None and match.group(1) in compose_services
                   and int(match.group(2)) in container_ports(compose_services[match.group(1)]),
                   f"jaeger config: metric backend endpoint {backend.get('endpoint')!r} is not a Compose service port")
    trace_backend = query_storage.get("traces")
    problems.check((config.get("exporters", {}).get("jaeger_storage_exporter") or {}).get("trace_storage") == trace_backend,
                   "jaeger config: jaeger_storage_exporter and jaeger_query use different trace storages")
    memory = ((storage.get("backends") or {}).get(trace_backend) or {}).get("memory") or {}
    limit = mem_limit_bytes(jaeger_service.get("mem_limit", "0"))
    max_traces = int(memory.get("max_traces", 0))
    problems.check(0 < max_traces and max_traces * BYTES_PER_TRACE <= limit // 2,
                   f"jaeger config: memory max_traces {max_traces} x {BYTES_PER_TRACE} B does not fit half of mem_limit {limit} B")
    limiter = config.get("processors", {}).get("memory_limiter") or {}
    problems.check(0 < int(limiter.get("limit_mib", 0)) * 1024**2 < limit,
                   "jaeger config: memory_limiter limit_mib must be set below the container's mem_limit")
    # 6. The connector's metric names are the ones the Monitor tab and the dashboard query.
    produced = spanmetrics_prometheus_names(config.get("connectors", {}).get(connector))
    problems.check(produced == jaeger_spm_names(backend),
                   f"jaeger config: spanmetrics produces {produced}, the Monitor tab queries {jaeger_spm_names(backend)}")
    dashboard = json.loads((ROOT / "dashboards/red-from-spans.json").read_text())
    used = {m for panel in all_panels(dashboard) for t in panel.get("targets", [])
            for m in re.findall(r"traces_span_metrics_\w+", t.get("expr", ""))}
    allowed = {produced[0]} | {produced[1] + suffix for suffix in ("_bucket", "_sum", "_count")}
    problems.check(bool(used) and used <= allowed, f"red-from-spans.json: metrics {sorted(used - allowed)} are not produced")
    # 7. UI and health check where Compose expects them.
    http = (ext.get("jaeger_query") or {}).get("http", {})
    problems.check(endpoint_port(http.get("endpoint", ":16686")) == 16686, "jaeger config: jaeger_query UI not on 16686")
    health = ext.get("healthcheckv2") or {}
    health_http = health.get("http") or {}
    status_path = (health_http.get("status") or {}).get("path", "/status")
    probe = " ".join(jaeger_service.get("healthcheck", {}).get("test", []))
    problems.check(health.get("use_v2") is True and health_http.get("endpoint")
                   and f"{health_http['endpoint']}{status_path}" in probe,
                   f"jaeger: Compose's healthcheck {probe!r} does not probe healthcheckv2 at {health_http.get('endpoint')}{status_path}")
    return f"{len(pipelines)} pipelines, metrics {produced[0]}, {produced[1]}"
