#!/usr/bin/env python3
"""Cross-file checks of the deployment configuration that no single tool does.

Run by deploy/check.sh (from the repository root, with the venv's python for PyYAML):

    python deploy/tests/check_static.py compose       docker-compose.yml: health checks, pinned images, ordering
    python deploy/tests/check_static.py dockerfile    Dockerfile: one target per service, non-root, pinned bases
    python deploy/tests/check_static.py scrape        prometheus.yml targets <-> Compose services and ports
    python deploy/tests/check_static.py rules         alerts: labels/annotations, runbooks, unit tests, inhibitions
    python deploy/tests/check_static.py dashboards    dashboards/*.json structure, panels, datasources, links;
                                                      datasources.yml as Grafana 13.1 loads it: trace -> metrics
                                                      links select each span's own job, exemplar links open
                                                      a Jaeger trace ID query
    python deploy/tests/check_static.py dashboard-promql   prints every panel query, and every trace -> metrics
                                                      query as Grafana fills it for a span, as a rule file for
                                                      `promtool check rules` (PromQL parses on 2.42)
    python deploy/tests/check_static.py k8s           kustomize output (stdin): PrometheusRule == rules,
                                                      ServiceMonitors, pod hardening, prober config
    python deploy/tests/check_static.py k8s-core      kustomize output (stdin) without CRD documents (stdout),
                                                      for kubernetes-validate, which has no CRD schemas
    python deploy/tests/check_static.py ports VARS    `docker-compose config` output (stdin), resolved with the
                                                      variables VARS (default, lan or custom): host bindings
    python deploy/tests/check_static.py optional-env VARIABLE VALUE SERVICE...   `docker-compose config`
                                                      output (stdin): exactly the SERVICEs get VARIABLE, as VALUE
    python deploy/tests/check_static.py jaeger        deploy/jaeger/config.yml: OTLP -> traces -> spanmetrics ->
                                                      Prometheus exporter -> scrape job -> jaeger_query metrics
    python deploy/tests/check_static.py dev           scripts/native-prometheus-config.sh output (stdin), dev.sh's
                                                      loadgen, and `just load` reusing `just dev`'s build

Each subcommand prints what it checked and exits 1 with one line per problem.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

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
JAEGER_CONFIG_IN_CONTAINER = "/etc/jaeger/config.yml"
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
    # Required, with a message (Compose's ${VAR:?message}): no default admin password.
    problems.check(re.fullmatch(r"\$\{GRAFANA_ADMIN_PASSWORD:\?.+\}", str(grafana.get("GF_SECURITY_ADMIN_PASSWORD")))
                   is not None, "compose: Grafana admin password must be ${GRAFANA_ADMIN_PASSWORD:?message} (no default)")
    # Grafana 13 supports only Viewer as the anonymous role; viewers_can_edit lets Viewers open Explore,
    # where every trace link leads (pkg/api/accesscontrol.go: fixed:datasources:explorer).
    problems.check(grafana.get("GF_AUTH_ANONYMOUS_ORG_ROLE") == "Viewer", "compose: Grafana anonymous role is not Viewer")
    problems.check(str(grafana.get("GF_USERS_VIEWERS_CAN_EDIT")).lower() == "true",
                   "compose: anonymous Viewers cannot open Explore (set GF_USERS_VIEWERS_CAN_EDIT: \"true\")")
    prometheus = " ".join(services.get("prometheus", {}).get("command", []))
    problems.check("--enable-feature=exemplar-storage" in prometheus, "compose: Prometheus without exemplar storage")
    problems.check("--web.enable-lifecycle" not in prometheus,
                   "compose: Prometheus --web.enable-lifecycle lets anyone who reaches it POST /-/quit")
    cadvisor = str(services.get("cadvisor", {}).get("image", ""))
    match = re.fullmatch(r"ghcr\.io/google/cadvisor:v?(\d+)\.(\d+)\.(\d+)", cadvisor)
    problems.check(match is not None and tuple(map(int, match.groups())) >= (0, 54, 0),
                   f"compose: cAdvisor {cadvisor!r}: needs ghcr.io/google/cadvisor >= v0.54.0 (containerd image store)")
    jaeger = services.get("jaeger", {})
    problems.check(jaeger.get("command") == ["--config", JAEGER_CONFIG_IN_CONTAINER],
                   f"compose: jaeger must run with --config {JAEGER_CONFIG_IN_CONTAINER}")
    problems.check(f"./deploy/jaeger/config.yml:{JAEGER_CONFIG_IN_CONTAINER}:ro" in (jaeger.get("volumes") or []),
                   "compose: jaeger must mount ./deploy/jaeger/config.yml read-only")
    header = (ROOT / "docker-compose.yml").read_text().split("\nx-rust-service", 1)[0]
    for variable in sorted({v for v, _ in PUBLISHED.values()} | {"BIND_ADDR", "GRAFANA_ADMIN_PASSWORD"}):
        problems.check(variable in header, f"compose: {variable} is not documented in docker-compose.yml's header")
    return f"{len(services)} Compose services"


# --- host ports --------------------------------------------------------------------------------------

# What a person opens from the host, and nothing else: (service, container port) -> (host port
# variable, default). Redis, the exporters, cAdvisor, loadgen and alert-webhook are not published.
PUBLISHED = {
    ("grafana", 3000): ("GRAFANA_PORT", 3000),
    ("jaeger", 16686): ("JAEGER_UI_PORT", 16686),
    ("jaeger", 4317): ("JAEGER_OTLP_GRPC_PORT", 4317),
    ("jaeger", 4318): ("JAEGER_OTLP_HTTP_PORT", 4318),
    ("prometheus", 9090): ("PROMETHEUS_PORT", 9090),
    ("alertmanager", 9093): ("ALERTMANAGER_PORT", 9093),
    # Not 5000 on the host: macOS's AirPlay receiver listens there.
    ("web-flask-equivalent", 5000): ("WEB_FLASK_EQUIVALENT_PORT", 5050),
    ("redis-counter", 5001): ("REDIS_COUNTER_PORT", 5001),
    ("robot-control", 6543): ("ROBOT_CONTROL_PORT", 6543),
    ("url-prober", 8080): ("URL_PROBER_PORT", 8080),
}
# Whoever reaches these can stop or query Prometheus, silence every alert or write spans: loopback
# only, even when BIND_ADDR opens the pages to the LAN.
LOOPBACK_ONLY = {("prometheus", 9090), ("alertmanager", 9093), ("jaeger", 4317), ("jaeger", 4318)}
# The variable sets deploy/check.sh resolves docker-compose.yml with (besides GRAFANA_ADMIN_PASSWORD).
PORT_SCENARIOS = {
    "default": {},
    "lan": {"BIND_ADDR": "0.0.0.0"},
    "custom": {variable: str(20000 + index) for index, (variable, _) in enumerate(PUBLISHED.values())},
}


def published_ports(service: dict) -> list[tuple[str, int, int]]:
    """(host ip, host port, container port) of each published port, in either Compose syntax."""
    result = []
    for entry in service.get("ports", []) or []:
        if isinstance(entry, dict):
            result.append((str(entry.get("host_ip", "")), int(entry.get("published", 0) or 0), int(entry["target"])))
            continue
        text = str(entry).split("/")[0]
        parts = text.rsplit(":", 2) if text.count(":") >= 2 else [""] + text.split(":")
        if len(parts) == 2:
            parts = [""] + parts
        host_ip, host_port, target = parts[-3], parts[-2], parts[-1]
        result.append((host_ip, int(host_port or 0), int(target)))
    return result


def check_ports(problems: Problems, resolved: dict, scenario: str) -> str:
    """docker-compose.yml as Compose resolved it with PORT_SCENARIOS[scenario]'s variables."""
    variables = PORT_SCENARIOS[scenario]
    seen = set()
    for name, service in resolved["services"].items():
        for host_ip, host_port, target in published_ports(service):
            key = (name, target)
            where = f"compose ({scenario}): {name} publishes {host_ip or '*'}:{host_port}->{target}"
            problems.check(key in PUBLISHED, f"{where}: nobody opens it from the host (use expose)")
            if key not in PUBLISHED:
                continue
            seen.add(key)
            variable, default = PUBLISHED[key]
            wanted_port = int(variables.get(variable, default))
            problems.check(host_port == wanted_port, f"{where}: host port should be ${{{variable}}} = {wanted_port}")
            wanted_ip = "127.0.0.1" if key in LOOPBACK_ONLY else variables.get("BIND_ADDR", "127.0.0.1")
            problems.check(host_ip == wanted_ip, f"{where}: should bind {wanted_ip}")
            problems.check(host_port != 5000 or scenario == "custom", f"{where}: 5000 is macOS's AirPlay receiver")
    for key in sorted(set(PUBLISHED) - seen):
        problems.append(f"compose ({scenario}): {key[0]} does not publish container port {key[1]}")
    return f"{len(seen)} published ports"


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
            problems.check(job["job_name"] == host or job["job_name"].startswith(host + "-"),
                           f"prometheus.yml: job {job['job_name']} should be named {host} (or {host}-<what>)")
    for name, port in OUR_SERVICES.items():
        problems.check(jobs.get(name) == [f"{name}:{port}"], f"prometheus.yml: {name} is not scraped at {name}:{port}")
    for exporter in ("redis-exporter", "node-exporter", "cadvisor", "prometheus", "alertmanager", "jaeger",
                     "jaeger-spanmetrics"):
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


# --- Grafana's interpolation of provisioned files ----------------------------------------------------
#
# Grafana 13.1 puts every string of a provisioning file (datasources, dashboard providers: every field,
# nested jsonData included) through values.interpolateValue (pkg/services/provisioning/values/values.go):
# split on "$$" (the escape for a literal "$"); in each part apply setting.ExpandVar, the
# `$__env{NAME}`, `${NAME}` and `$__file{path}` expanders (pkg/setting/expanders.go), then Go's
# os.ExpandEnv (src/os/env.go: `$NAME` and `${NAME}`, unset = empty); join the parts with "$".
# The functions below do exactly that, so the checks see the strings Grafana will use.

GRAFANA_EXPANDER = re.compile(r"\$(|__\w+)\{([^}]+)\}", re.ASCII)
# Environment of the grafana/grafana image besides what docker-compose.yml sets (its Dockerfile's ENV).
GRAFANA_IMAGE_ENV = {"PATH": "/usr/share/grafana/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                     "GF_PATHS_CONFIG": "/etc/grafana/grafana.ini", "GF_PATHS_DATA": "/var/lib/grafana",
                     "GF_PATHS_HOME": "/usr/share/grafana", "GF_PATHS_LOGS": "/var/log/grafana",
                     "GF_PATHS_PLUGINS": "/var/lib/grafana/plugins", "GF_PATHS_PROVISIONING": "/etc/grafana/provisioning"}


def _go_shell_name(s: str) -> tuple[str, int]:
    """Go's os.getShellName: the variable name after a `$` and how many bytes it takes."""
    special = "*#$@!?-0123456789"
    if s[0] == "{":
        if len(s) > 2 and s[1] in special and s[2] == "}":
            return s[1:2], 3
        for i in range(1, len(s)):
            if s[i] == "}":
                return ("", 2) if i == 1 else (s[1:i], i + 1)  # "${}" is eaten
        return "", 1  # "${" without "}" is eaten
    if s[0] in special:
        return s[0:1], 1
    i = 0
    while i < len(s) and (s[i] == "_" or s[i].isascii() and s[i].isalnum()):
        i += 1
    return s[:i], i


def go_expand(s: str, mapping) -> str:
    """Go's os.Expand(s, mapping)."""
    out, i, j = [], 0, 0
    while j < len(s):
        if s[j] == "$" and j + 1 < len(s):
            out.append(s[i:j])
            name, width = _go_shell_name(s[j + 1:])
            if name == "" and width > 0:
                pass  # invalid syntax: eaten
            elif name == "":
                out.append("$")  # "$" not followed by a name stays
            else:
                out.append(mapping(name))
            j += width
            i = j + 1
        j += 1
    return "".join(out) + s[i:]


def grafana_interpolate(value: str, env: dict, unset: set) -> str:
    """values.interpolateValue; names of variables read but not set in `env` are added to `unset`."""
    def getenv(name: str) -> str:
        if name not in env:
            unset.add(name)
        return env.get(name, "")

    def expand_var(part: str) -> str:  # setting.ExpandVar: env (priority -10), then file (-5)
        for expander in ("env", "file"):
            for prefix, argument in GRAFANA_EXPANDER.findall(part):
                if prefix == "__" + expander or (prefix == "" and expander == "env"):
                    if expander == "file":
                        unset.add(f"$__file{{{argument}}} (a file inside the container)")
                        replacement = ""
                    else:
                        replacement = getenv(argument)
                    part = part.replace(f"${prefix}{{{argument}}}", replacement, 1)
        return part

    return "$".join(go_expand(expand_var(part), getenv) for part in value.split("$$"))


def grafana_env() -> dict:
    """The Grafana container's environment: the image's ENV plus docker-compose.yml's grafana environment."""
    env = dict(GRAFANA_IMAGE_ENV)
    env.update({k: str(v) for k, v in (compose()["services"]["grafana"].get("environment") or {}).items()})
    return env


def provisioned(path: Path, unset: set):
    """A provisioning file as Grafana sees it: every string interpolated (apiVersion is read before)."""
    env = grafana_env()

    def walk(node, key=None):
        if isinstance(node, dict):
            return {k: (v if k == "apiVersion" else walk(v, k)) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        if isinstance(node, str):
            return grafana_interpolate(node, env, unset)
        return node

    return walk(load_yaml(path))


# --- Grafana's trace -> metrics links, for a span from Jaeger ----------------------------------------
#
# "Related metrics" on a span in Grafana 13.1's trace view runs each tracesToMetrics query with $__tags
# filled in from the span. What the span carries depends on the path the trace took:
#   our service's OTel resource + span attributes
#   -> Jaeger 2.19 stores OTLP; its v1 API (/api/traces/<id>) converts with the collector-contrib Jaeger
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
    """The OTel resource a service of ours exports (crates/telemetry/src/tracer.rs, resource(), and its test
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
    for job in load_yaml(ROOT / "deploy/prometheus/prometheus.yml")["scrape_configs"]:
        targets = [t for static in job.get("static_configs", []) for t in static.get("targets", [])]
        if job["job_name"] == host and any(t.rsplit(":", 1)[0] == host for t in targets):
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


DATASOURCES = ROOT / "deploy/grafana/provisioning/datasources/datasources.yml"
DASHBOARD_PROVIDERS = ROOT / "deploy/grafana/provisioning/dashboards/dashboards.yml"


def substitute(expr: str) -> str:
    """What Grafana would send for a dashboard panel, for a syntax check: variables replaced by plausible values."""
    return expr.replace("$__rate_interval", "1m").replace("$service", ".+")


def dashboard_promql() -> None:
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
    ours = trace_to_metrics_spans(env)["web-flask-equivalent"]
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


# --- jaeger ----------------------------------------------------------------------------------------------

JAEGER_CONFIG = ROOT / "deploy/jaeger/config.yml"
# Component types linked into Jaeger 2.19.0 (cmd/jaeger/internal/components.go).
JAEGER_COMPONENTS = {
    "extensions": {"jaeger_storage", "jaeger_query", "jaeger_mcp", "remote_sampling", "remote_storage", "healthcheckv2",
                   "pprof", "zpages", "expvar", "basicauth", "sigv4auth", "storage_cleaner"},
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
    problems.check("${" not in text, "jaeger config: no ${...} expansion expected (the collector expands it)")
    service = config.get("service", {})
    pipelines = service.get("pipelines", {})
    defined = {kind: set((config.get(kind) or {}).keys()) for kind in JAEGER_COMPONENTS}
    for kind, ids in defined.items():
        for component in ids:
            problems.check(component.split("/")[0] in JAEGER_COMPONENTS[kind],
                           f"jaeger config: {kind}.{component}: no such component in Jaeger 2.19.0")
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
    # 2. OTLP -> traces pipeline -> trace storage and the spanmetrics connector.
    traces = [p for n, p in pipelines.items() if n.split("/")[0] == "traces" and "otlp" in p.get("receivers", [])]
    problems.check(len(traces) == 1, "jaeger config: no (single) traces pipeline receiving otlp")
    connectors = [c for c in defined["connectors"] if c.split("/")[0] == "spanmetrics"]
    problems.check(len(connectors) == 1, "jaeger config: no (single) spanmetrics connector")
    connector = connectors[0] if connectors else "spanmetrics"
    if traces:
        exporters = traces[0].get("exporters", [])
        problems.check("jaeger_storage_exporter" in exporters, "jaeger config: traces pipeline does not store traces")
        problems.check(connector in exporters, f"jaeger config: traces pipeline does not feed {connector}")
        processors = traces[0].get("processors", [])
        problems.check(processors[:1] == ["memory_limiter"], "jaeger config: memory_limiter must come first in traces")
    # 3. connector -> metrics pipeline -> prometheus exporter.
    metrics = [p for n, p in pipelines.items() if n.split("/")[0] == "metrics" and connector in p.get("receivers", [])]
    problems.check(len(metrics) == 1, f"jaeger config: no metrics pipeline receiving from {connector}")
    prom_exporters = [e for e in (metrics[0].get("exporters", []) if metrics else []) if e.split("/")[0] == "prometheus"]
    problems.check(len(prom_exporters) == 1, "jaeger config: the spanmetrics pipeline has no prometheus exporter")
    # 4. exporter -> Compose exposes its port -> a Prometheus job scrapes jaeger:<port>.
    compose_services = compose()["services"]
    jaeger_service = compose_services.get("jaeger", {})
    scraped = {t for job in load_yaml(ROOT / "deploy/prometheus/prometheus.yml")["scrape_configs"]
               for sc in job.get("static_configs", []) for t in sc.get("targets", [])}
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


# --- the native stack (just dev, just load) ---------------------------------------------------------------

NOT_NATIVE = {"jaeger", "cadvisor"}


def shell_command(text: str, marker: str) -> list[str]:
    """The words of the (backslash-continued) command line in `text` that starts with `marker`."""
    joined = text.replace("\\\n", " ")
    line = next((l for l in joined.splitlines() if l.strip().startswith(marker)), "")
    return line.split()


def check_dev(problems: Problems, native: dict) -> str:
    compose_jobs = {job["job_name"]: [t for sc in job.get("static_configs", []) for t in sc.get("targets", [])]
                    for job in load_yaml(ROOT / "deploy/prometheus/prometheus.yml")["scrape_configs"]}
    wanted = {name for name, targets in compose_jobs.items()
              if not any(t.rsplit(":", 1)[0] in NOT_NATIVE for t in targets)}
    jobs = {job["job_name"]: [t for sc in job.get("static_configs", []) for t in sc.get("targets", [])]
            for job in native.get("scrape_configs", [])}
    problems.check(set(jobs) == wanted, f"native prometheus.yml: jobs {sorted(jobs)}, want {sorted(wanted)} "
                                        f"(no jobs for {sorted(NOT_NATIVE)}: they cannot run natively)")
    for name, targets in jobs.items():
        for target in targets:
            problems.check(target.startswith("127.0.0.1:") and target.split(":")[1] == compose_jobs.get(name, [""])[0].rsplit(":", 1)[-1],
                           f"native prometheus.yml: job {name} target {target} is not its Compose port on 127.0.0.1")
    dev = (ROOT / "scripts/dev.sh").read_text()
    loadgen = shell_command(dev, "start loadgen")
    binary = "target/debug/loadgen"
    problems.check(binary in loadgen, "scripts/dev.sh: does not start loadgen (target/debug/loadgen)")
    if binary in loadgen:
        args = loadgen[loadgen.index(binary) + 1:]
        problems.check(args == compose()["services"]["loadgen"].get("command"),
                       f"scripts/dev.sh: loadgen {args} differs from docker-compose.yml's {compose()['services']['loadgen'].get('command')}")
        env = dict(w.split("=", 1) for w in loadgen if "=" in w and not w.startswith("-"))
        for variable, service in (("LOADGEN_WEB_URL", "web-flask-equivalent"), ("LOADGEN_REDIS_URL", "redis-counter"),
                                  ("LOADGEN_ROBOT_URL", "robot-control"), ("LOADGEN_PROBER_URL", "url-prober")):
            problems.check(env.get(variable) == f"http://127.0.0.1:{OUR_SERVICES[service]}",
                           f"scripts/dev.sh: loadgen {variable} is not http://127.0.0.1:{OUR_SERVICES[service]}")
    build = shell_command(dev, "cargo build")
    justfile = (ROOT / "justfile").read_text()
    recipe = re.search(r"^load \*args:\n((?:    .*\n)+)", justfile, re.M)
    body = recipe.group(1) if recipe else ""
    problems.check(bool(build) and "--release" not in body and any(l.split() == build for l in body.splitlines()),
                   f"justfile: `just load` must build as scripts/dev.sh does ({' '.join(build)}), not a release build")
    problems.check(binary in body, f"justfile: `just load` must run {binary}, the binary `just dev` built")
    return f"{len(jobs)} native scrape jobs"


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


def check_optional_env(problems: Problems, resolved: dict, variable: str, value: str, services: list[str]) -> str:
    """An optional variable as Compose resolved it: the services that use it get `value` (empty when
    it is unset, which they take as unset), and no other service gets it (it may be a secret)."""
    for name, service in resolved["services"].items():
        environment = service.get("environment") or {}
        if isinstance(environment, list):
            environment = dict(e.split("=", 1) if "=" in e else (e, None) for e in environment)
        if name in services:
            got = environment.get(variable)
            problems.check(got == value, f"compose: {name} gets {variable}={got!r}, expected {value!r}")
        else:
            problems.check(variable not in environment, f"compose: {name} gets {variable}, which only {', '.join(services)} need")
    return f"{variable}={value!r} reaches exactly {', '.join(services)}"


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
    elif command == "ports":
        scenario = sys.argv[2] if len(sys.argv) > 2 else "default"
        summary = check_ports(problems, yaml.safe_load(sys.stdin), scenario)
    elif command == "port-scenario":  # for deploy/check.sh: the variables of a scenario, as NAME=value lines
        for name, value in PORT_SCENARIOS[sys.argv[2]].items():
            print(f"{name}={value}")
        return 0
    elif command == "optional-env":
        variable, value, *services = sys.argv[2:]
        summary = check_optional_env(problems, yaml.safe_load(sys.stdin), variable, value, services)
    elif command == "jaeger":
        summary = check_jaeger(problems)
    elif command == "dev":
        summary = check_dev(problems, yaml.safe_load(sys.stdin))
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
