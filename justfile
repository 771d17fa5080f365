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
test: check
    cargo build --workspace --bins
    cargo test --workspace --no-fail-fast

# Formatting, lints, dependency licenses/sources, and the deploy/ config checks.
check:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    cargo deny check licenses bans sources
    bash deploy/check.sh

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
