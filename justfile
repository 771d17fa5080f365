# Observable Rust microservices: `just` lists the recipes.

set shell := ["bash", "-euo", "pipefail", "-c"]

compose := "docker compose"
venv := env_var_or_default("VENV", ".venv")

# List the recipes.
default:
    @just --list --unsorted

# Starts and stops no daemon; `bash scripts/setup.sh --dry-run` shows what it would install.
# Install every tool `just test` needs that is missing (apt packages via sudo, cargo tools, .venv).
setup:
    bash scripts/setup.sh

# Is every tool `just check` or `just test` needs here? One list of what is missing, and `just setup`.
preflight scope="test":
    @bash scripts/preflight.sh {{scope}}

# RELIABILITY.md is regenerated from the figures the reliability suite records as it runs.
# Everything CI runs: lints, every crate's tests (real Redis, Prometheus, OTLP, Chromium), config checks.
test: (preflight "test") check
    cargo build --workspace --bins
    find target/reliability -maxdepth 1 -name '*.json' ! -name '*.soak.json' -delete 2>/dev/null || true
    bash scripts/cargo-test.sh
    python3 scripts/reliability_report.py

# The long reliability run: more crash cycles, 100,000-request cardinality attacks, more fuzz cases.
soak:
    cargo build --workspace --bins
    rm -f target/reliability/*.soak.json
    RELIABILITY_SOAK=1 cargo test -p reliability --no-fail-fast -- --test-threads=1
    python3 scripts/reliability_report.py

# Dependencies: licenses, sources, advisories when the database can be fetched, unused ones (cargo-shear).
# Formatting, lints, dependencies, the GitHub workflow (actionlint), the pictures, the deploy/ configs.
check: (preflight "check")
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    bash scripts/deny.sh
    cargo shear --locked --deny-warnings
    {{venv}}/bin/actionlint
    python3 scripts/pictures.py --check
    bash deploy/check.sh

# Regenerate what follows from the objectives in deploy/slo/*.yml: recording rules, burn-rate alerts,
# their promtool tests, the SLO dashboard and the Kubernetes PrometheusRule (`just check` fails on drift).
slo:
    {{venv}}/bin/python deploy/slo/slo.py
    {{venv}}/bin/python deploy/grafana/dashboards.py
    {{venv}}/bin/python deploy/k8s/gen_prometheusrule.py

# Regenerate the README's generated pictures (docs/images/*.svg from docs/*.dot, with Graphviz).
pictures:
    python3 scripts/pictures.py

# The whole stack in Docker: services, Redis, Jaeger, Prometheus, Grafana, Alertmanager, exporters, loadgen.
# Needs GRAFANA_ADMIN_PASSWORD; host ports and address: see the variables in docker-compose.yml's header.
up:
    {{compose}} up -d --build
    @echo "Grafana http://localhost:${GRAFANA_PORT:-3000}  Jaeger http://localhost:${JAEGER_UI_PORT:-16686} (Monitor tab: /monitor)  Prometheus http://localhost:${PROMETHEUS_PORT:-9090}"

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
# Its own /metrics goes on a free port, so it does not clash with the loadgen `just dev` runs on 9000.
# Robot commands carry ROBOT_TOKEN when it is set in your environment, else the robot UI's key.
# Defaults: 60 s at 50 req/s; flags override them (`just load --rate 200 --duration 5m`).
# Same build command and profile as scripts/dev.sh: after `just dev` this builds nothing.
# Targets: Compose's host ports (docker-compose.yml's variables) when web-flask-equivalent answers on
# its Compose host port, else the native ports of `just dev`.
load *args:
    cargo build --bins
    web_port="${WEB_FLASK_EQUIVALENT_PORT:-5050}"; \
    (exec 3<>"/dev/tcp/127.0.0.1/$web_port") 2>/dev/null || web_port=5000; \
    LISTEN_ADDR="${LISTEN_ADDR:-127.0.0.1:0}" LOADGEN_DURATION="${LOADGEN_DURATION:-60s}" \
    LOADGEN_RATE="${LOADGEN_RATE:-50}" LOADGEN_WEB_URL="${LOADGEN_WEB_URL:-http://127.0.0.1:$web_port}" \
    LOADGEN_REDIS_URL="${LOADGEN_REDIS_URL:-http://127.0.0.1:${REDIS_COUNTER_PORT:-5001}}" \
    LOADGEN_ROBOT_URL="${LOADGEN_ROBOT_URL:-http://127.0.0.1:${ROBOT_CONTROL_PORT:-6543}}" \
    LOADGEN_PROBER_URL="${LOADGEN_PROBER_URL:-http://127.0.0.1:${URL_PROBER_PORT:-8080}}" \
    target/debug/loadgen {{args}}

# The benchmark table (BENCHMARKS.md) next to its baselines.
bench *args:
    bash scripts/bench.sh {{args}}
