"""Grafana's trace -> metrics links, emulated for a span of each service as it reaches Grafana's trace
view from Jaeger: which tags the span carries, what `$__tags` becomes, and the query Grafana runs. The
datasource check and `dashboard-promql` (hence the live stack test) use the same emulation."""

from __future__ import annotations

import re

from .common import OUR_SERVICES, compose, job_targets, scrape_configs


# "Related metrics" on a span in Grafana 13.1's trace view runs each tracesToMetrics query with $__tags
# filled in from the span. What the span carries depends on the path the trace took:
#   our service's OTel resource + span attributes
#   -> Jaeger 2.12 stores OTLP; its v1 API (/api/traces/<id>) converts with the collector-contrib Jaeger
#      translator (internal/storage/v2/v1adapter/translator.go -> pkg/translator/jaeger,
#      resourceToJaegerProtoProcess): process.serviceName = service.name, process.tags = every OTHER
#      resource attribute (service.name is not a tag)
#   -> the Jaeger datasource (grafana-jaeger-datasource, bundled with Grafana 13) turns the trace into a
#      frame, serviceTags = process.tags (pkg/jaeger/utils/client_utils.go, TransformTraceResponse); only
#      with the experimental feature toggle jaegerEnableGrpcEndpoint it reads /api/v3 (OTLP JSON) and
#      serviceTags = every resource attribute, service.name included (grpc_utils.go, TransformGrpcTraceResponse)
#   -> the trace view: span.process.tags = serviceTags (TraceView/utils/transform.ts)
#   -> $__tags = getFormattedTags(getSpanTags(span), tracesToMetrics.tags or the defaults)
#      (TraceView/createSpanLink.tsx, crossSignalConfig.ts).

JAEGER_GRPC_TOGGLE = "jaegerEnableGrpcEndpoint"
# crossSignalConfig.ts, getDefaultMetricTags: used when tracesToMetrics.tags is empty.
GRAFANA_DEFAULT_METRIC_TAGS = [{"key": k, "value": k.replace(".", "_") if "." in k else None}
                               for k in ("cluster", "hostname", "namespace", "pod", "service.name", "service.namespace")]
# Grafana's variable syntax (public/app/features/variables/utils.ts, variableRegex): $name, [[name]], ${name...}.
GRAFANA_VARIABLE = re.compile(r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}")


def our_resource(service: str, env: dict) -> dict[str, str]:
    """The OTel resource a service of ours exports (crates/telemetry/src/trace/tracer.rs, resource(), and its test
    resource_carries_the_prometheus_job_beside_the_service_name): service.name
    (the crate name unless OTEL_SERVICE_NAME), prometheus.job = service.name (the Prometheus job of its
    metrics, by the convention job = service name = crate name), the version and SDK, then
    OTEL_RESOURCE_ATTRIBUTES, which overrides any of them but service.name."""
    name = str(env.get("OTEL_SERVICE_NAME") or service)
    resource = {"service.name": name, "prometheus.job": name, "service.version": "0.1.0",
                "telemetry.sdk.name": "opentelemetry", "telemetry.sdk.language": "rust"}
    for pair in filter(None, str(env.get("OTEL_RESOURCE_ATTRIBUTES") or "").split(",")):
        key, _, value = pair.partition("=")
        if key.strip() != "service.name":
            resource[key.strip()] = re.sub(r"%([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), value.strip())
    return resource


def grafana_feature_enabled(env: dict, toggle: str) -> bool:
    """A Grafana feature toggle from its environment: GF_FEATURE_TOGGLES_ENABLE (a list) or GF_FEATURE_TOGGLES_<NAME>."""
    listed = re.split(r"[,\s]+", str(env.get("GF_FEATURE_TOGGLES_ENABLE", "")))
    return toggle in listed or str(env.get(f"GF_FEATURE_TOGGLES_{toggle.upper()}", "")).lower() == "true"


def jaeger_span(resource: dict[str, str], span_attributes: dict, grpc: bool) -> dict:
    """A span as Grafana's trace view gets it from the Jaeger datasource (see above): process.tags lose
    service.name on the v1 API (the default), keep it on /api/v3."""
    tags = [{"key": k, "value": v} for k, v in resource.items() if grpc or k != "service.name"]
    return {"process": {"serviceName": resource.get("service.name", ""), "tags": tags},
            "tags": [{"key": k, "value": v} for k, v in span_attributes.items()],
            "spanID": "00f067aa0ba902b7", "traceID": "4bf92f3577b34da6a3ce929d0e0e4736",
            "operationName": "GET /", "duration": 1500}


def grafana_metrics_tags(span: dict, tags_to_use: list[dict]) -> str:
    """$__tags of a trace-to-metrics link: getFormattedTags(getSpanTags(span), tags) in crossSignalConfig.ts."""
    tags_to_use = tags_to_use or GRAFANA_DEFAULT_METRIC_TAGS
    all_tags = span["process"]["tags"] + span["tags"] + [
        {"key": "spanId", "value": span["spanID"]}, {"key": "traceId", "value": span["traceID"]},
        {"key": "name", "value": span["operationName"]}, {"key": "duration", "value": span["duration"]}]
    formatted = []
    for tag in all_tags:
        mapping = next((m for m in tags_to_use if m.get("key") == tag["key"]), None)
        if mapping:
            formatted.append(f'{mapping.get("value") or mapping["key"]}="{tag["value"]}"')
    return ", ".join(formatted)


def grafana_fill(expr: str, variables: dict[str, str]) -> str:
    """TemplateSrv.replace with scoped variables: known names replaced, unknown ones left as written."""
    def replace(match: re.Match) -> str:
        name = match.group(1) or match.group(2) or match.group(4)
        return variables.get(name, match.group(0))
    return GRAFANA_VARIABLE.sub(replace, expr)


def scrape_job_of(host: str) -> str | None:
    """The prometheus.yml job that scrapes a Compose service's own metrics (job name == host)."""
    for job in scrape_configs():
        if job["job_name"] == host and any(t.rsplit(":", 1)[0] == host for t in job_targets(job)):
            return job["job_name"]
    return None


# A server span of ours: the layer's attributes, plus the tags Jaeger's translator adds (scope, kind).
SERVER_SPAN_ATTRIBUTES = {"otel.scope.name": "telemetry", "http.request.method": "GET", "http.route": "/",
                          "url.path": "/", "network.protocol.version": "1.1", "http.response.status_code": 200,
                          "span.kind": "server"}
# A span of a service that is not ours (no prometheus.job): $__tags is "" and the queries must still parse.
FOREIGN_RESOURCE = {"service.name": "somebody-else", "telemetry.sdk.language": "go"}


def trace_to_metrics_spans(grafana_environment: dict) -> dict[str, dict]:
    """For each service of ours, a span of it as Grafana 13.1's trace view sees it (Compose's environment)."""
    grpc = grafana_feature_enabled(grafana_environment, JAEGER_GRPC_TOGGLE)
    services = compose()["services"]
    return {name: jaeger_span(our_resource(name, services.get(name, {}).get("environment") or {}),
                              SERVER_SPAN_ATTRIBUTES, grpc)
            for name in OUR_SERVICES}
