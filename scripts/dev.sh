#!/usr/bin/env bash
# `just dev`: the stack natively, no Docker. Builds the services and runs them on their usual
# ports (docs/ARCHITECTURE.md, "Ports and names"), with redis-server from the OS, and Jaeger,
# Prometheus, Alertmanager, redis_exporter and node_exporter at the releases Compose runs when
# `just setup` has built them (scripts/stack-programs.sh), and loadgen's gentle steady load as in
# Compose, so the dashboards fill without a second command. Prometheus uses deploy/prometheus
# rendered by scripts/native-prometheus-config.sh (loopback targets, no cAdvisor job), Jaeger uses
# deploy/jaeger/config.yml with its addresses on 127.0.0.1, and the services export their spans
# to it. Ctrl-C stops everything and ends with status 0. `just load` reuses the binaries built
# here (same build command, same profile).
set -euo pipefail
cd "$(dirname "$0")/.."
state=target/dev
mkdir -p "$state"
cargo build --bins

pids=()
cleanup() {
  trap - EXIT INT TERM
  [ -z "${terminal:-}" ] || stty "$terminal"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
# Ctrl-C is how this stack is meant to end, with status 0. A SIGINT from the terminal would also
# reach `just`, which then reports the recipe as interrupted (exit 130) however cleanly this script
# ends (casey/just#2773); so on a terminal, Ctrl-C is read as a key (the terminal's signal keys are
# off while the stack runs, and restored on exit). A TERM, or an INT sent otherwise, also ends it
# with status 0.
stopped() { cleanup; echo; echo "native stack stopped"; exit 0; }
trap stopped INT TERM

start() { # name, command...
  local name=$1; shift
  "$@" >"$state/$name.log" 2>&1 &
  pids+=($!)
  echo "started $name (pid $!, log $state/$name.log)"
}
have() { command -v "$1" >/dev/null; }
stack_bin=$(bash scripts/stack-programs.sh bin-dir)
# A pinned upstream program, when `just setup` has built it at the pinned release.
built() { bash scripts/stack-programs.sh status "$1" >/dev/null 2>&1; }
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if listening 6379; then
  echo "redis: using the server already on 127.0.0.1:6379"
elif have redis-server; then
  start redis redis-server --port 6379 --bind 127.0.0.1 --save "" --appendonly no
else
  echo "redis-server not installed (apt-get install -y redis-server): redis-counter will answer 503" >&2
fi

jaeger=0
if built jaeger; then
  # deploy/jaeger/config.yml with every listener on 127.0.0.1 (same ports as in Compose) and the
  # native Prometheus as its metrics store.
  sed -e 's/0\.0\.0\.0/127.0.0.1/g' -e 's#http://prometheus:9090#http://127.0.0.1:9090#' \
    deploy/jaeger/config.yml >"$state/jaeger.yml"
  start jaeger "$stack_bin/jaeger" --config "$state/jaeger.yml"
  jaeger=1
  for _ in $(seq 100); do listening 4317 && break; sleep 0.1; done
  # As docker-compose.yml's x-telemetry-env (deploy/check.sh compares them): OTLP/gRPC on 4317.
  export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4317 OTEL_EXPORTER_OTLP_PROTOCOL=grpc
else
  echo "jaeger not built (just setup): the services' spans go nowhere" >&2
  export OTEL_SDK_DISABLED=true
fi

export LOG_FORMAT="${LOG_FORMAT:-pretty}" RUST_LOG="${RUST_LOG:-info}"
start web-flask-equivalent env LISTEN_ADDR=127.0.0.1:5000 target/debug/web-flask-equivalent
start redis-counter env LISTEN_ADDR=127.0.0.1:5001 REDIS_URL=redis://127.0.0.1:6379 target/debug/redis-counter
# No token by default: the robots move from their own UI (loadgen reads its key, as the UI does).
# ROBOT_TOKEN in your environment, if set, reaches robot-control and loadgen from there (not on a
# command line, which `ps` shows); the UI then asks for it (README, Security).
start robot-control env LISTEN_ADDR=127.0.0.1:6543 ROBOT_DRIVER=sim target/debug/robot-control
start url-prober env LISTEN_ADDR=127.0.0.1:8080 target/debug/url-prober # built-in defaults probe loopback
# Like Compose's depends_on: loadgen starts once the services it drives are listening (10 s at most).
for port in 5000 5001 6543 8080; do
  for _ in $(seq 100); do listening "$port" && break; sleep 0.1; done
done
# The same command line as docker-compose.yml's loadgen (deploy/check.sh compares them).
start loadgen env LISTEN_ADDR=127.0.0.1:9000 LOADGEN_WEB_URL=http://127.0.0.1:5000 \
  LOADGEN_REDIS_URL=http://127.0.0.1:5001 LOADGEN_ROBOT_URL=http://127.0.0.1:6543 \
  LOADGEN_PROBER_URL=http://127.0.0.1:8080 target/debug/loadgen --rate 5 --duration 0 --quiet

built redis_exporter && start redis-exporter "$stack_bin/redis_exporter" \
  --web.listen-address=127.0.0.1:9121 --redis.addr=redis://127.0.0.1:6379
built node_exporter && start node-exporter "$stack_bin/node_exporter" --web.listen-address=127.0.0.1:9100
if built alertmanager; then
  start alertmanager "$stack_bin/alertmanager" --config.file=deploy/alertmanager/alertmanager.yml \
    --storage.path="$state/alertmanager" --web.listen-address=127.0.0.1:9093 --cluster.listen-address=
fi
if built prometheus; then
  mkdir -p "$state/prometheus"
  rm -rf "$state/prometheus/rules" && cp -r deploy/prometheus/rules "$state/prometheus/rules"
  if ((jaeger)); then
    bash scripts/native-prometheus-config.sh >"$state/prometheus/prometheus.yml"
  else
    bash scripts/native-prometheus-config.sh --no-jaeger >"$state/prometheus/prometheus.yml"
  fi
  # As docker-compose.yml runs it (exemplar storage on).
  start prometheus "$stack_bin/prometheus" --config.file="$state/prometheus/prometheus.yml" \
    --storage.tsdb.path="$state/prometheus/data" --web.listen-address=127.0.0.1:9090 \
    --enable-feature=exemplar-storage
else
  echo "prometheus not built (just setup): no scraping" >&2
fi

cat <<EOT

Native stack up:  web http://127.0.0.1:5000  redis-counter http://127.0.0.1:5001
  robot UI http://127.0.0.1:6543${ROBOT_TOKEN:+ (log in with any user name and your ROBOT_TOKEN)}
  url-prober http://127.0.0.1:8080/queryurl
  Prometheus http://127.0.0.1:9090/api/v1/targets (API only: a build from source has no web UI)
  Alertmanager http://127.0.0.1:9093 (UI)
  Jaeger API http://127.0.0.1:16686/api/services, /api/traces?service=redis-counter (a build from
    source serves no UI: the Jaeger UI and the Monitor tab come with the image, just up)
Grafana dashboards need the Compose stack (just up).
Traffic: loadgen runs at 5 req/s (log target/dev/loadgen.log); more: just load      Stop: Ctrl-C
EOT
if [ -t 0 ]; then
  terminal=$(stty -g) # restored by cleanup
  # Byte by byte with dd: bash's `read -n` turns the signal keys back on while it reads.
  stty -isig -icanon -echo min 1
  while key=$(dd bs=1 count=1 2>/dev/null) && [ -n "$key" ] && [ "$key" != $'\x03' ]; do :; done
  stopped
fi
wait
