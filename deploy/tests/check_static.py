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
    python deploy/tests/check_static.py dashboard-promql [SPAN.json]   prints every panel query, and every trace -> metrics
                                                      query as Grafana fills it for a span, as a rule file for
                                                      `promtool check rules` (PromQL parses on the pinned Prometheus)
    python deploy/tests/check_static.py k8s           kustomize output (stdin): PrometheusRule == rules,
                                                      ServiceMonitors, pod hardening, prober config
    python deploy/tests/check_static.py k8s-core      kustomize output (stdin) without CRD documents (stdout),
                                                      for kubernetes-validate, which has no CRD schemas
    python deploy/tests/check_static.py k8s-crds      kustomize output (stdin): ServiceMonitors and PrometheusRule
                                                      against prometheus-operator's CRD schemas (deploy/tests/crds),
                                                      unknown fields rejected
    python deploy/tests/check_static.py ports VARS    `docker-compose config` output (stdin), resolved with the
                                                      variables VARS (default, lan or custom): host bindings
    python deploy/tests/check_static.py optional-env VARIABLE VALUE SERVICE...   `docker-compose config`
                                                      output (stdin): exactly the SERVICEs get VARIABLE, as VALUE
    python deploy/tests/check_static.py jaeger        deploy/jaeger/config.yml: OTLP -> traces -> spanmetrics ->
                                                      Prometheus exporter -> scrape job -> jaeger_query metrics
    python deploy/tests/check_static.py stack         deploy/tools/stack.tsv, the tools modules' go.mod, Compose's
                                                      images and the Kubernetes manifests name the same releases
    python deploy/tests/check_static.py dev           scripts/native-prometheus-config.sh output (stdin), dev.sh's
                                                      loadgen, and `just load` reusing `just dev`'s build

Each subcommand prints what it checked and exits 1 with one line per problem.

The checks live in deploy/tests/checks/, a module per part of the stack (compose, dockerfile, prometheus,
grafana, jaeger, native, k8s, stack); this file only reads the command line.
"""

from __future__ import annotations

import sys

import yaml

from checks.common import Problems
from checks.compose import PORT_SCENARIOS, check_compose, check_optional_env, check_ports
from checks.dockerfile import check_dockerfile
from checks.grafana import check_dashboards, check_datasources, dashboard_promql
from checks.jaeger import check_jaeger
from checks.k8s import check_crds, check_k8s, without_crds
from checks.native import check_dev
from checks.prometheus import check_rules, check_scrape
from checks.stack import check_stack


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
    elif command == "stack":
        summary = check_stack(problems)
    elif command == "dev":
        summary = check_dev(problems, yaml.safe_load(sys.stdin))
    elif command == "dashboard-promql":
        dashboard_promql(sys.argv[2] if len(sys.argv) > 2 else None)
        return 0
    elif command in ("k8s", "k8s-core", "k8s-crds"):
        documents = [d for d in yaml.safe_load_all(sys.stdin) if d]
        if command == "k8s-core":
            yaml.safe_dump_all(without_crds(documents), sys.stdout)
            return 0
        summary = check_crds(problems, documents) if command == "k8s-crds" else check_k8s(problems, documents)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    for problem in problems:
        print(f"  FAIL {problem}", file=sys.stderr)
    print(f"  {command}: {summary}, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
