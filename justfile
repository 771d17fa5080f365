# Observable Rust microservices: `just` lists the recipes.

set shell := ["bash", "-euo", "pipefail", "-c"]

compose := "docker compose"

# List the recipes.
default:
    @just --list --unsorted

# Install the test tools (apt packages, just, Python checkers in .venv). Needs root or sudo.
setup:
    bash scripts/setup.sh

# Everything CI runs: lints, every crate's tests (real Redis, Prometheus, OTLP, Chromium), config checks.
# RELIABILITY.md is regenerated from the figures the reliability suite records as it runs.
test: check
    cargo build --workspace --bins
    find target/reliability -maxdepth 1 -name '*.json' ! -name '*.soak.json' -delete 2>/dev/null || true
    cargo test --workspace --no-fail-fast
    python3 scripts/reliability_report.py

# The long reliability run: more crash cycles, 100,000-request cardinality attacks, more fuzz cases.
soak:
    cargo build --workspace --bins
    rm -f target/reliability/*.soak.json
    RELIABILITY_SOAK=1 cargo test -p reliability --no-fail-fast -- --test-threads=1
    python3 scripts/reliability_report.py

# Formatting, lints, dependency licenses/sources, and the deploy/ config checks.
check:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    cargo deny check licenses bans sources
    bash deploy/check.sh

# Regenerate what follows from the objectives in deploy/slo/*.yml: recording rules, burn-rate alerts,
# their promtool tests, the SLO dashboard and the Kubernetes PrometheusRule (`just check` fails on drift).
slo:
    ${VENV:-.venv}/bin/python deploy/slo/slo.py
    ${VENV:-.venv}/bin/python deploy/grafana/dashboards.py
    ${VENV:-.venv}/bin/python deploy/k8s/gen_prometheusrule.py

# The whole stack in Docker: services, Redis, Jaeger, Prometheus, Grafana, Alertmanager, exporters, loadgen.
up:
    {{compose}} up -d --build
    @echo "Grafana http://localhost:3000  Jaeger http://localhost:16686  Prometheus http://localhost:9090"

# Stop the stack and remove its containers (volumes are kept).
down:
    {{compose}} down

# Follow the stack's logs.
logs *services:
    {{compose}} logs -f {{services}}

# The services natively, no Docker: redis-server and prometheus from the OS when installed.
dev:
    bash scripts/dev.sh

# Drive realistic traffic at a running stack (native or Compose) so every panel and trace view fills.
# Its own /metrics goes on a free port, so it does not clash with a loadgen container on 9000.
# Defaults: 60 s at 50 req/s; flags override them (`just load --rate 200 --duration 5m`).
load *args:
    LISTEN_ADDR="${LISTEN_ADDR:-127.0.0.1:0}" LOADGEN_DURATION="${LOADGEN_DURATION:-60s}" \
    LOADGEN_RATE="${LOADGEN_RATE:-50}" cargo run --release -p loadgen -- {{args}}

# The benchmark table (BENCHMARKS.md) next to its baselines.
bench *args:
    bash scripts/bench.sh {{args}}
