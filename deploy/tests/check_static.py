#!/usr/bin/env python3
"""Cross-file checks of the deployment configuration that no single tool does.

Run by deploy/check.sh (from the repository root, with the venv's python for PyYAML):

    python deploy/tests/check_static.py compose       docker-compose.yml: health checks, pinned images, ordering
    python deploy/tests/check_static.py dockerfile    Dockerfile: one target per service, non-root, pinned bases
    python deploy/tests/check_static.py scrape        prometheus.yml targets <-> Compose services and ports
    python deploy/tests/check_static.py rules         alerts: labels/annotations, runbooks, unit tests, inhibitions
    python deploy/tests/check_static.py dashboards    dashboards/*.json structure, panels, datasources, links
    python deploy/tests/check_static.py dashboard-promql   prints every panel query as a rule file for
                                                      `promtool check rules` (PromQL parses on 2.42)
    python deploy/tests/check_static.py k8s           kustomize output (stdin): PrometheusRule == rules,
                                                      ServiceMonitors, pod hardening, prober config
    python deploy/tests/check_static.py k8s-core      kustomize output (stdin) without CRD documents (stdout),
                                                      for kubernetes-validate, which has no CRD schemas

Each subcommand prints what it checked and exits 1 with one line per problem.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
OUR_SERVICES = {
    "web-flask-equivalent": 5000,
    "redis-counter": 5001,
    "robot-control": 6543,
    "url-prober": 8080,
    "loadgen": 9000,
}
DATASOURCE_UIDS = {"prometheus", "jaeger", "-- Grafana --", "grafana"}
CRD_GROUPS = ("monitoring.coreos.com/",)


class Problems(list):
    def check(self, condition: bool, message: str) -> None:
        if not condition:
            self.append(message)


def load_yaml(path: Path):
    return yaml.safe_load(path.read_text())


def compose() -> dict:
    return load_yaml(ROOT / "docker-compose.yml")


def rule_groups() -> list:
    groups = []
    for path in sorted((ROOT / "deploy/prometheus/rules").glob("*.yml")):
        groups.extend(load_yaml(path)["groups"])
    return groups


def alerts() -> list[dict]:
    return [rule for group in rule_groups() for rule in group["rules"] if "alert" in rule]


# --- compose ---------------------------------------------------------------------------------------


def check_compose(problems: Problems) -> str:
    services = compose()["services"]
    for name, service in services.items():
        image, build = service.get("image"), service.get("build")
        problems.check(bool(image or build), f"compose: {name} has neither image nor build")
        if image and not build:
            tag = image.rsplit("/", 1)[-1]
            problems.check(":" in tag and not tag.endswith(":latest"), f"compose: {name} image {image!r} is not pinned")
        health = service.get("healthcheck") or {}
        problems.check(bool(health.get("test")) and not health.get("disable"), f"compose: {name} has no healthcheck")
        depends = service.get("depends_on") or {}
        problems.check(isinstance(depends, dict), f"compose: {name} depends_on must use conditions (a mapping)")
        if isinstance(depends, dict):
            for other, spec in depends.items():
                problems.check(other in services, f"compose: {name} depends on unknown service {other}")
                problems.check((spec or {}).get("condition") == "service_healthy",
                               f"compose: {name} depends on {other} without condition: service_healthy")
    for name, port in OUR_SERVICES.items():
        service = services.get(name)
        problems.check(service is not None, f"compose: service {name} (a crate) is missing")
        if not service:
            continue
        problems.check((service.get("build") or {}).get("target") == name, f"compose: {name} must build target {name}")
        env = service.get("environment") or {}
        problems.check(env.get("LISTEN_ADDR") == f"0.0.0.0:{port}", f"compose: {name} LISTEN_ADDR is not 0.0.0.0:{port}")
        problems.check(env.get("OTEL_EXPORTER_OTLP_ENDPOINT") == "http://jaeger:4317", f"compose: {name} OTLP endpoint")
        problems.check(env.get("OTEL_EXPORTER_OTLP_PROTOCOL") == "grpc", f"compose: {name} OTLP protocol")
        problems.check(service.get("read_only") is True, f"compose: {name} root filesystem is not read-only")
        test = " ".join(service.get("healthcheck", {}).get("test", []))
        problems.check(f":{port}/healthz" in test, f"compose: {name} healthcheck does not probe :{port}/healthz")
    grafana = services.get("grafana", {}).get("environment", {})
    problems.check(grafana.get("GF_SECURITY_ADMIN_PASSWORD") == "${GRAFANA_ADMIN_PASSWORD:-admin}",
                   "compose: Grafana admin password must come from GRAFANA_ADMIN_PASSWORD")
    problems.check(grafana.get("GF_AUTH_ANONYMOUS_ORG_ROLE") == "Viewer", "compose: Grafana anonymous role is not Viewer")
    prometheus = " ".join(services.get("prometheus", {}).get("command", []))
    problems.check("--enable-feature=exemplar-storage" in prometheus, "compose: Prometheus without exemplar storage")
    return f"{len(services)} Compose services"


def check_dockerfile(problems: Problems) -> str:
    text = (ROOT / "Dockerfile").read_text()
    targets = {stage: base for base, stage in re.findall(r"^FROM\s+(\S+)\s+AS\s+(\S+)", text, re.M | re.I)}
    for name in OUR_SERVICES:
        problems.check(targets.get(name) == "runtime", f"Dockerfile: no `FROM runtime AS {name}` target")
        problems.check(f'ENTRYPOINT ["/usr/local/bin/{name}"]' in text, f"Dockerfile: {name} has no ENTRYPOINT")
    problems.check("ARG RUST_IMAGE=rust:1.95-slim-bookworm" in text, "Dockerfile: builder is not rust:1.95-slim-bookworm")
    problems.check(re.search(r"^USER\s+65532", text, re.M) is not None, "Dockerfile: runtime does not run as non-root 65532")
    problems.check(re.search(r"^HEALTHCHECK\s", text, re.M) is not None, "Dockerfile: no HEALTHCHECK")
    problems.check("--locked" in text, "Dockerfile: cargo builds must be --locked")
    ignore = (ROOT / ".dockerignore").read_text()
    problems.check("target/" in ignore and ".git" in ignore, ".dockerignore: target/ and .git must be ignored")
    return f"{len(targets)} Dockerfile stages"


# --- prometheus --------------------------------------------------------------------------------------


def container_ports(service: dict) -> set[int]:
    ports = set()
    for entry in service.get("ports", []) or []:
        if isinstance(entry, dict):
            ports.add(int(entry["target"]))
        else:
            ports.add(int(str(entry).split("/")[0].rsplit(":", 1)[-1]))
    ports.update(int(str(port).split("/")[0]) for port in service.get("expose", []) or [])
    return ports


def check_scrape(problems: Problems) -> str:
    services = compose()["services"]
    config = load_yaml(ROOT / "deploy/prometheus/prometheus.yml")
    jobs = {}
    for job in config["scrape_configs"]:
        targets = [t for static in job.get("static_configs", []) for t in static.get("targets", [])]
        jobs[job["job_name"]] = targets
        problems.check(len(targets) > 0, f"prometheus.yml: job {job['job_name']} has no targets")
        for target in targets:
            host, _, port = target.rpartition(":")
            problems.check(host in services, f"prometheus.yml: {target} is not a Compose service")
            if host in services:
                problems.check(int(port) in container_ports(services[host]),
                               f"prometheus.yml: {target}: port {port} is not published or exposed by {host}")
            problems.check(host == job["job_name"], f"prometheus.yml: job {job['job_name']} should be named {host}")
    for name, port in OUR_SERVICES.items():
        problems.check(jobs.get(name) == [f"{name}:{port}"], f"prometheus.yml: {name} is not scraped at {name}:{port}")
    for exporter in ("redis-exporter", "node-exporter", "cadvisor", "prometheus", "alertmanager"):
        problems.check(exporter in jobs, f"prometheus.yml: {exporter} is not scraped")
    managers = [t for am in config.get("alerting", {}).get("alertmanagers", [])
                for static in am.get("static_configs", []) for t in static.get("targets", [])]
    problems.check(managers == ["alertmanager:9093"], "prometheus.yml: alertmanager target missing")
    problems.check(config.get("rule_files") == ["rules/*.yml"], "prometheus.yml: rule_files must be rules/*.yml")
    return f"{len(jobs)} scrape jobs"


def check_rules(problems: Problems) -> str:
    rules = alerts()
    names = [rule["alert"] for rule in rules]
    # An alert name is used once, except the generated SLO burn alerts (deploy/slo): one rule per
    # service and window pair, told apart by their job and labels.
    identities = [(rule["alert"], re.findall(r'job="([^"]*)"', rule["expr"])[:1], sorted(rule.get("labels", {}).items()))
                  for rule in rules]
    problems.check(len(identities) == len(set(map(repr, identities))), "rules: duplicate alert rules")
    runbooks = (ROOT / "docs/runbooks.md").read_text()
    anchors = {re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-")
               for heading in re.findall(r"^## (.+)$", runbooks, re.M)}
    tests = "\n".join(path.read_text() for path in sorted((ROOT / "deploy/prometheus/tests").glob("*.yml")))
    for rule in rules:
        name = rule["alert"]
        problems.check(rule.get("labels", {}).get("severity") in {"critical", "warning", "info", "page", "ticket"},
                       f"rules: {name} has no severity critical|warning|info|page|ticket")
        annotations = rule.get("annotations", {})
        for key in ("summary", "description", "runbook"):
            problems.check(bool(annotations.get(key)), f"rules: {name} has no {key} annotation")
        runbook = annotations.get("runbook", "")
        if runbook.startswith("docs/runbooks.md#"):
            problems.check(runbook.split("#", 1)[1] in anchors, f"rules: {name}: {runbook} has no section")
        # A firing case (exp_alerts with labels) and a not-firing case (exp_alerts: []) per alert.
        blocks = re.findall(rf"alertname: {name}\n\s+eval_time: \S+.*\n\s+exp_alerts:(.*)", tests)
        problems.check(any(b.strip() == "[]" for b in blocks), f"rules: {name} has no not-firing test case")
        problems.check(any(b.strip() == "" for b in blocks), f"rules: {name} has no firing test case")
    # Inhibitions and routes must name alerts that exist.
    manager = load_yaml(ROOT / "deploy/alertmanager/alertmanager.yml")
    for rule in manager.get("inhibit_rules", []):
        for matcher in rule.get("source_matchers", []) + rule.get("target_matchers", []):
            match = re.match(r'alertname(=~?)"(.*)"', matcher)
            if match:
                wanted = match.group(2).split("|") if match.group(1) == "=~" else [match.group(2)]
                for alert in wanted:
                    problems.check(alert in names, f"alertmanager.yml: inhibition names unknown alert {alert}")
    return f"{len(rules)} alerts"


# --- dashboards --------------------------------------------------------------------------------------


def dashboard_files() -> list[Path]:
    return sorted((ROOT / "dashboards").glob("*.json"))


def all_panels(dashboard: dict) -> list[dict]:
    panels = []
    for panel in dashboard.get("panels", []):
        panels.append(panel)
        panels.extend(panel.get("panels", []))  # collapsed rows
    return panels


def check_dashboards(problems: Problems) -> str:
    files = dashboard_files()
    expected = {f"{name}.json" for name in ("overview", "web-flask-equivalent", "redis-counter", "robot-control",
                                            "url-prober", "infrastructure")}
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


def substitute(expr: str) -> str:
    """What Grafana would send, for a syntax check: variables replaced by plausible values."""
    return (expr.replace("$__rate_interval", "1m").replace("$service", ".+")
            .replace("{$__tags}", '{job="web-flask-equivalent"}').replace("$__tags", 'job="web-flask-equivalent"'))


def dashboard_promql() -> None:
    rules = []
    for path in dashboard_files():
        dashboard = json.loads(path.read_text())
        for panel in all_panels(dashboard):
            for target in panel.get("targets", []):
                if target.get("expr"):
                    rules.append({"record": f"dashboard:{path.stem.replace('-', '_')}:panel{panel['id']}_{target['refId']}",
                                  "expr": substitute(target["expr"])})
    datasources = load_yaml(ROOT / "deploy/grafana/provisioning/datasources/datasources.yml")
    for source in datasources["datasources"]:
        for index, query in enumerate(source.get("jsonData", {}).get("tracesToMetrics", {}).get("queries", [])):
            rules.append({"record": f"datasource:traces_to_metrics:q{index}", "expr": substitute(query["query"])})
    yaml.safe_dump({"groups": [{"name": "dashboard-queries", "rules": rules}]}, sys.stdout, sort_keys=False)


def check_datasources(problems: Problems) -> None:
    sources = {s["uid"]: s for s in load_yaml(ROOT / "deploy/grafana/provisioning/datasources/datasources.yml")["datasources"]}
    problems.check(set(sources) == {"prometheus", "jaeger"}, "datasources.yml: uids must be prometheus and jaeger")
    exemplar = sources.get("prometheus", {}).get("jsonData", {}).get("exemplarTraceIdDestinations", [])
    problems.check(any(e.get("datasourceUid") == "jaeger" and e.get("name") == "trace_id" for e in exemplar),
                   "datasources.yml: Prometheus exemplars must link trace_id to jaeger")
    t2m = sources.get("jaeger", {}).get("jsonData", {}).get("tracesToMetrics", {})
    problems.check(t2m.get("datasourceUid") == "prometheus" and {"key": "service.name", "value": "job"} in t2m.get("tags", []),
                   "datasources.yml: Jaeger tracesToMetrics must map service.name to job on prometheus")
    provider = load_yaml(ROOT / "deploy/grafana/provisioning/dashboards/dashboards.yml")["providers"][0]
    problems.check(provider["options"]["path"] == "/var/lib/grafana/dashboards", "dashboards.yml: provider path")


# --- kubernetes ----------------------------------------------------------------------------------------


def check_k8s(problems: Problems, documents: list[dict]) -> str:
    by_kind: dict[str, list[dict]] = {}
    for document in documents:
        by_kind.setdefault(document["kind"], []).append(document)
    for document in documents:
        if document["kind"] != "Namespace":
            problems.check(document["metadata"].get("namespace") == "observable",
                           f"k8s: {document['kind']}/{document['metadata']['name']} not in namespace observable")
    rules = by_kind.get("PrometheusRule", [])
    problems.check(len(rules) == 1, "k8s: expected exactly one PrometheusRule")
    if rules:
        problems.check(rules[0]["spec"]["groups"] == rule_groups(),
                       "k8s: PrometheusRule groups differ from deploy/prometheus/rules (run deploy/k8s/gen_prometheusrule.py)")
    services = {s["metadata"]["name"]: s for s in by_kind.get("Service", [])}
    deployments = {d["metadata"]["name"]: d for d in by_kind.get("Deployment", [])}
    monitors = {m["metadata"]["name"]: m for m in by_kind.get("ServiceMonitor", [])}
    for name, port in OUR_SERVICES.items():
        problems.check(name in deployments and name in services and name in monitors,
                       f"k8s: {name} needs a Deployment, a Service and a ServiceMonitor")
        if name in services:
            problems.check([p["port"] for p in services[name]["spec"]["ports"]] == [port], f"k8s: Service {name} port")
    for name, monitor in monitors.items():
        selector = monitor["spec"]["selector"]["matchLabels"]
        matched = [s for s in services.values()
                   if all(s["metadata"].get("labels", {}).get(k) == v for k, v in selector.items())]
        problems.check(len(matched) == 1, f"k8s: ServiceMonitor {name} selects {len(matched)} Services, not 1")
        for endpoint in monitor["spec"]["endpoints"]:
            port_names = {p.get("name") for s in matched for p in s["spec"]["ports"]}
            problems.check(endpoint.get("port") in port_names, f"k8s: ServiceMonitor {name}: no Service port {endpoint.get('port')}")
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        problems.check(pod.get("securityContext", {}).get("runAsNonRoot") is True, f"k8s: {name}: pod runAsNonRoot")
        problems.check(pod.get("securityContext", {}).get("seccompProfile", {}).get("type") == "RuntimeDefault",
                       f"k8s: {name}: seccompProfile RuntimeDefault")
        for container in pod["containers"]:
            where = f"k8s: {name}/{container['name']}"
            context = container.get("securityContext", {})
            problems.check(context.get("allowPrivilegeEscalation") is False, f"{where}: allowPrivilegeEscalation")
            problems.check(context.get("readOnlyRootFilesystem") is True, f"{where}: readOnlyRootFilesystem")
            problems.check(context.get("capabilities", {}).get("drop") == ["ALL"], f"{where}: drop ALL capabilities")
            problems.check("livenessProbe" in container and "readinessProbe" in container, f"{where}: probes")
            resources = container.get("resources", {})
            problems.check("requests" in resources and "limits" in resources, f"{where}: requests and limits")
            if name in OUR_SERVICES:
                problems.check(container["readinessProbe"].get("httpGet", {}).get("path") == "/readyz", f"{where}: /readyz")
                problems.check(container["livenessProbe"].get("httpGet", {}).get("path") == "/healthz", f"{where}: /healthz")
                env = {e["name"]: e.get("value") for e in container.get("env", [])}
                problems.check(env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").startswith("http://"), f"{where}: OTEL endpoint")
    compose_config = load_yaml(ROOT / "deploy/url-prober/config.yml")
    k8s_config = load_yaml(ROOT / "deploy/k8s/url-prober-config.yml")
    problems.check(compose_config == k8s_config, "k8s: url-prober-config.yml differs from deploy/url-prober/config.yml")
    return f"{len(documents)} Kubernetes objects"


def main() -> int:
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    problems = Problems()
    if command == "compose":
        summary = check_compose(problems)
    elif command == "dockerfile":
        summary = check_dockerfile(problems)
    elif command == "scrape":
        summary = check_scrape(problems)
    elif command == "rules":
        summary = check_rules(problems)
    elif command == "dashboards":
        summary = check_dashboards(problems)
        check_datasources(problems)
    elif command == "dashboard-promql":
        dashboard_promql()
        return 0
    elif command in ("k8s", "k8s-core"):
        documents = [d for d in yaml.safe_load_all(sys.stdin) if d]
        if command == "k8s-core":
            yaml.safe_dump_all([d for d in documents if not d["apiVersion"].startswith(CRD_GROUPS)], sys.stdout)
            return 0
        summary = check_k8s(problems, documents)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    for problem in problems:
        print(f"  FAIL {problem}", file=sys.stderr)
    print(f"  {command}: {summary}, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
