"""Grafana: the generated dashboards (structure, ids, units, datasources, rate windows) and the
provisioned datasources as Grafana 13.1 loads them (`dashboards`): the trace -> metrics links select
each span's own service, the exemplar links open a Jaeger trace ID query. `dashboard-promql` prints
every panel query and every trace -> metrics query as Grafana fills it, for promtool (deploy/check.sh)
and the live stack test (crates/stack-tests/tests/live_stack/panels.rs) to run."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import yaml

from .common import ROOT, Problems, all_panels, dashboard_files
from .grafana_provisioning import grafana_env, provisioned
from .grafana_trace_to_metrics import (FOREIGN_RESOURCE, GRAFANA_VARIABLE, JAEGER_GRPC_TOGGLE, SERVER_SPAN_ATTRIBUTES,
                                       grafana_feature_enabled, grafana_fill, grafana_metrics_tags, jaeger_span,
                                       scrape_job_of, trace_to_metrics_spans)

DATASOURCE_UIDS = {"prometheus", "jaeger", "-- Grafana --", "grafana"}


def check_dashboards(problems: Problems) -> str:
    files = dashboard_files()
    expected = {f"{name}.json" for name in ("overview", "web-flask-equivalent", "redis-counter", "robot-control",
                                            "url-prober", "infrastructure", "red-from-spans")}
    problems.check(expected <= {f.name for f in files}, f"dashboards: missing {sorted(expected - {f.name for f in files})}")
    uids = {}
    count = 0
    for path in files:
        try:
            dashboard = json.loads(path.read_text())
        except ValueError as error:
            problems.append(f"{path.name}: invalid JSON: {error}")
            continue
        uid = dashboard.get("uid")
        problems.check(bool(uid), f"{path.name}: no fixed uid")
        problems.check(uid not in uids, f"{path.name}: uid {uid} also used by {uids.get(uid)}")
        uids[uid] = path.name
        problems.check(dashboard.get("schemaVersion", 0) >= 39, f"{path.name}: schemaVersion < 39")
        problems.check(dashboard.get("id") is None, f"{path.name}: must not carry a database id")
        ids = [panel.get("id") for panel in all_panels(dashboard)]
        problems.check(len(ids) == len(set(ids)) and None not in ids, f"{path.name}: panel ids not unique")
        text = json.dumps(dashboard)
        for uid_used in re.findall(r'"uid": "([^"]*)"', text):
            if uid_used != uid:
                problems.check(uid_used in DATASOURCE_UIDS, f"{path.name}: unknown datasource uid {uid_used!r}")
        for panel in all_panels(dashboard):
            count += 1
            where = f"{path.name}: panel {panel.get('id')} {panel.get('title')!r}"
            problems.check(bool(panel.get("title")), f"{where}: no title")
            problems.check(bool(panel.get("description")), f"{where}: no description")
            problems.check(bool(panel.get("fieldConfig", {}).get("defaults", {}).get("unit")), f"{where}: no unit")
            if panel.get("type") == "row":
                continue
            problems.check(panel.get("datasource", {}).get("uid") in DATASOURCE_UIDS, f"{where}: panel datasource")
            problems.check(bool(panel.get("targets")), f"{where}: no targets")
            for target in panel.get("targets", []):
                problems.check(target.get("datasource", {}).get("uid") in DATASOURCE_UIDS, f"{where}: target datasource")
                expr = target.get("expr", "")
                problems.check(bool(expr), f"{where}: target {target.get('refId')} has no expr")
                for window in re.findall(r"\[([^\]]+)\]", expr):
                    problems.check(window in ("$__rate_interval", "5m"), f"{where}: rate window [{window}]")
    return f"{len(files)} dashboards, {count} panels"


DATASOURCES = ROOT / "deploy/grafana/provisioning/datasources/datasources.yml"
DASHBOARD_PROVIDERS = ROOT / "deploy/grafana/provisioning/dashboards/dashboards.yml"


def substitute(expr: str) -> str:
    """What Grafana would send for a dashboard panel, for a syntax check: variables replaced by plausible values."""
    return expr.replace("$__rate_interval", "1m").replace("$service", ".+")


def dashboard_promql(span_file: str | None = None) -> None:
    """span_file: a span of web-flask-equivalent as Jaeger's API returned it, with its `process`
    inline (the live stack test passes one from the real Jaeger); else the emulated span."""
    rules = []
    for path in dashboard_files():
        dashboard = json.loads(path.read_text())
        for panel in all_panels(dashboard):
            for target in panel.get("targets", []):
                if target.get("expr"):
                    rules.append({"record": f"dashboard:{path.stem.replace('-', '_')}:panel{panel['id']}_{target['refId']}",
                                  "expr": substitute(target["expr"])})
    # Trace -> metrics, as Grafana fills them: for a span of web-flask-equivalent (which loadgen drives),
    # the same query with that service's job written in (what "its own service" means: the live stack
    # test compares the two on real Prometheus), and for a span of a service that is not ours.
    env = grafana_env()
    grpc = grafana_feature_enabled(env, JAEGER_GRPC_TOGGLE)
    ours = (json.loads(Path(span_file).read_text()) if span_file
            else trace_to_metrics_spans(env)["web-flask-equivalent"])
    foreign = jaeger_span(FOREIGN_RESOURCE, SERVER_SPAN_ATTRIBUTES, grpc)
    for source in provisioned(DATASOURCES, set())["datasources"]:
        t2m = source.get("jsonData", {}).get("tracesToMetrics", {})
        for index, query in enumerate(t2m.get("queries", [])):
            variants = {
                "span_of_web_flask_equivalent": grafana_metrics_tags(ours, t2m.get("tags", [])),
                "job_selected": f'job="{scrape_job_of("web-flask-equivalent")}"',
                "foreign_span": grafana_metrics_tags(foreign, t2m.get("tags", [])),
            }
            for suffix, tags in variants.items():
                rules.append({"record": f"datasource:traces_to_metrics:q{index}_{suffix}",
                              "expr": grafana_fill(query["query"], {"__tags": tags})})
    yaml.safe_dump({"groups": [{"name": "dashboard-queries", "rules": rules}]}, sys.stdout, sort_keys=False)


def check_datasources(problems: Problems) -> None:
    unset: set = set()
    sources = {s["uid"]: s for s in provisioned(DATASOURCES, unset)["datasources"]}
    provided = provisioned(DASHBOARD_PROVIDERS, unset)
    for name in sorted(unset):
        problems.append(f"grafana provisioning: ${name} is not set in the Grafana container, so Grafana "
                        "replaces it with \"\" (write $$ for a literal $)")
    problems.check(set(sources) == {"prometheus", "jaeger"}, "datasources.yml: uids must be prometheus and jaeger")
    check_exemplar_links(problems, sources)
    t2m = sources.get("jaeger", {}).get("jsonData", {}).get("tracesToMetrics", {})
    problems.check(t2m.get("datasourceUid") == "prometheus", "datasources.yml: Jaeger tracesToMetrics must query prometheus")
    for query in t2m.get("queries", []):
        problems.check(any(m.group(1) == "__tags" or m.group(2) == "__tags" or m.group(4) == "__tags"
                           for m in GRAFANA_VARIABLE.finditer(query.get("query", ""))),
                       f"datasources.yml: trace-to-metrics query {query.get('name')!r} lost Grafana's $__tags at load "
                       f"time: {query.get('query')!r}")
    # "Related metrics" of a span must show its own service: $__tags selects exactly the job Prometheus
    # scrapes that service under, for every service of ours.
    for service, span in trace_to_metrics_spans(grafana_env()).items():
        tags = grafana_metrics_tags(span, t2m.get("tags", []))
        wanted = f'job="{scrape_job_of(service)}"'
        process = span["process"]
        problems.check(tags == wanted,
                       f"datasources.yml: for a span of {service} (Jaeger process serviceName {process['serviceName']!r}, "
                       f"tags {[t['key'] for t in process['tags']]}) Grafana's $__tags is {tags!r}, not {wanted}: "
                       "its Related metrics links would not select its own service")
    provider = provided["providers"][0]
    problems.check(provider["options"]["path"] == "/var/lib/grafana/dashboards", "dashboards.yml: provider path")


# Grafana 13.1's exemplar links (@grafana/prometheus, result_transformer.ts): on the exemplar frame, the
# field named by a destination's `name` gets, for `datasourceUid`, an internal link running
# {query: "${__value.raw}", queryType: "traceql"} on that datasource, and for `url`, a link to the URL
# with ${__value.raw} replaced by the exemplar's value (URL-encoded; a relative URL stays in Grafana).
# The Jaeger datasource runs a trace ID query only when queryType is "" (grafana-jaeger-datasource
# pkg/jaeger/querydata.go; "traceql" gets no answer: grafana/grafana#111448).
EXEMPLAR_TRACE_ID_LABEL = "trace_id"  # collector-contrib prometheus exporter: otlptranslator.ExemplarTraceIDKey


def check_exemplar_links(problems: Problems, sources: dict) -> None:
    jaeger_uids = {uid for uid, source in sources.items() if source.get("type") == "jaeger"}
    destinations = sources.get("prometheus", {}).get("jsonData", {}).get("exemplarTraceIdDestinations", [])
    linked = [d for d in destinations if d.get("name") == EXEMPLAR_TRACE_ID_LABEL]
    problems.check(len(linked) == 1, f"datasources.yml: Prometheus needs one exemplarTraceIdDestinations entry "
                                     f"for the exemplar label {EXEMPLAR_TRACE_ID_LABEL}")
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    for destination in linked:
        problems.check(destination.get("datasourceUid") not in jaeger_uids,
                       "datasources.yml: exemplar link with datasourceUid to Jaeger: Grafana 13.1 sends it queryType "
                       "\"traceql\", which the Jaeger datasource answers with nothing; link with url to Explore instead")
        url = str(destination.get("url") or "")
        if destination.get("datasourceUid") and not url:
            continue
        problems.check(url.count("${__value.raw}") == 1,
                       f"datasources.yml: exemplar url must carry Grafana's ${{__value.raw}} once (write $${{__value.raw}}): {url!r}")
        parts = urlsplit(url.replace("${__value.raw}", trace_id))
        problems.check(parts.path == "/explore" and not parts.netloc,
                       f"datasources.yml: exemplar url must be Grafana's own /explore: {url!r}")
        try:
            panes = list(json.loads(parse_qs(parts.query).get("panes", ["{}"])[0]).values())
        except ValueError as error:
            problems.append(f"datasources.yml: exemplar url panes is not JSON: {error}")
            continue
        queries = panes[0].get("queries", []) if len(panes) == 1 else []
        problems.check(len(panes) == 1 and panes[0].get("datasource") in jaeger_uids and len(queries) == 1,
                       "datasources.yml: exemplar url must open one Explore pane with one Jaeger query")
        for query in queries:
            problems.check(query.get("query") == trace_id and not query.get("queryType")
                           and (query.get("datasource") or {}).get("uid", panes[0].get("datasource")) in jaeger_uids,
                           f"datasources.yml: exemplar url's query {query} is not a Jaeger trace ID query "
                           "(query = the trace id, no queryType)")
