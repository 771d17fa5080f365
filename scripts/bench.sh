#!/usr/bin/env bash
# `just bench`: measures the services against their baselines on this machine, in one run, and
# writes BENCHMARKS.md (crates/bench/report.py). Every figure is next to a baseline taken in the
# same run; repeats are interleaved round-robin so noise hits every configuration alike.
#
#   just bench            full run (5 interleaved rounds, wrk 6 s, 1 minute of load for the memory figures)
#   just bench --quick    a few minutes (2 rounds, wrk 3 s, 10 s memory load, short criterion runs)
#   just bench --check    only checks the tools are installed (what the test runs), then exits
#   just bench --only scrape   only the /metrics render bench (section 2, every format), spliced
#                              into the BENCHMARKS.md there is (its other sections are left as they are)
#   options: --repeats N, --duration SECONDS, --memory-load SECONDS, --out DIR (raw results)
#
# Parts: criterion benches (crates/bench/benches), release builds of bare-hello, the peers
# (peer-axum-prometheus, peer-assembled-otel), otlp-sink, the services and web-flask-equivalent
# without its HTTP layer (its example without_layer), a Python venv at
# target/bench-venv with the Flask baselines (crates/bench/flask) under gunicorn, redis-server and
# redis-benchmark, wrk. Everything listens on free 127.0.0.1 ports. Every full-telemetry target
# exports OTLP/gRPC to the one sink under its own service.name; at the end each is stopped with
# SIGTERM (it flushes) and the spans the sink received are counted against the requests it served.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

quick=0 check=0 repeats="" duration="" memory_load="" out="" only=""
while (($#)); do
  case $1 in
    --quick) quick=1 ;;
    --check) check=1 ;;
    --repeats) repeats=$2; shift ;;
    --duration) duration=$2; shift ;;
    --memory-load) memory_load=$2; shift ;;
    --out) out=$2; shift ;;
    --only)
      [ "${2:-}" = scrape ] || { echo "bench: --only takes scrape" >&2; exit 2; }
      only=$2; shift ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if ((quick)); then
  : "${repeats:=2}" "${duration:=3}" "${memory_load:=10}"
  criterion_args=(--warm-up-time 1 --measurement-time 2 --sample-size 30)
else
  : "${repeats:=5}" "${duration:=6}" "${memory_load:=60}"
  criterion_args=()
fi
connections=64 threads=2
: "${out:=target/bench-results}"

# ---------------------------------------------------------------- tools
missing_pkgs=()
need() { # command, Debian package
  command -v "$1" >/dev/null 2>&1 || missing_pkgs+=("$2")
}
need cargo "(rustup: https://rustup.rs)"
need wrk wrk
need redis-server redis-server
need redis-benchmark redis-tools
need redis-cli redis-tools
need python3 python3
if command -v python3 >/dev/null && ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  missing_pkgs+=(python3-venv)
fi
if ((${#missing_pkgs[@]})); then
  echo "bench: missing tools: run \`apt-get update && apt-get install -y ${missing_pkgs[*]}\` (or \`just setup\`)" >&2
  exit 1
fi
if ((check)); then
  echo "bench: all tools present (cargo, wrk, redis-server, redis-benchmark, python3 venv)"
  exit 0
fi

rm -rf "$out"
mkdir -p "$out"/{wrk,logs,criterion,rss}
# Absolute from here on: the benches run from their crate directory (--out may be relative or absolute).
out=$(cd "$out" && pwd)
log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# ---------------------------------------------------------------- processes
pids=()
cleanup() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# start NAME CMD... : runs in the background, logs to $out/logs/NAME.log; sets $last_pid.
start() {
  local name=$1; shift
  "$@" >"$out/logs/$name.log" 2>&1 &
  last_pid=$!
  pids+=("$last_pid")
}
stop() { # pid
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
http_get() { # port path -> body (HTTP/1.0, no curl needed)
  python3 - "$1" "$2" <<'EOF'
import sys, urllib.request
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}{sys.argv[2]}", timeout=5) as r:
        sys.stdout.write(r.read().decode())
except Exception as e:
    sys.stderr.write(f"{e}\n"); sys.exit(1)
EOF
}
wait_http() { # name port path pid
  local i
  for i in $(seq 1 300); do
    if http_get "$2" "$3" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$4" 2>/dev/null; then
      log "$1 exited early:"; cat "$out/logs/$1.log" >&2; exit 1
    fi
    sleep 0.1
  done
  log "$1 not ready on port $2:"; cat "$out/logs/$1.log" >&2; exit 1
}
rss_kb() { # pid... -> summed VmRSS in kB
  local total=0 pid v
  for pid in "$@"; do
    v=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    total=$((total + ${v:-0}))
  done
  echo "$total"
}
cpu_ticks() { # pid... -> summed utime+stime (clock ticks), all threads of each process
  local total=0 pid v
  for pid in "$@"; do
    # Fields 14 and 15 (utime, stime), counted after the ")" that ends the command name, which
    # may itself contain spaces.
    v=$(awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$pid/stat" 2>/dev/null || echo 0)
    total=$((total + ${v:-0}))
  done
  echo "$total"
}
family() { # pid -> the pid and its children (gunicorn master + workers)
  echo "$1" $(cat /proc/"$1"/task/*/children 2>/dev/null)
}

# ---------------------------------------------------------------- 2: criterion, /metrics render
scrape_bench() {
  rm -rf target/criterion/scrape_*
  log "criterion: /metrics render, every format"
  BENCH_OUT_DIR=$out cargo bench -q -p bench --bench scrape -- "${criterion_args[@]}" >"$out/logs/criterion-scrape.log" 2>&1
  local dir name
  for dir in target/criterion/scrape_*/*/; do
    [ -f "$dir/new/estimates.json" ] || continue
    name=$(echo "$dir" | sed -e 's|target/criterion/||' -e 's|/$||' -e 's|/|_|g')
    cp "$dir/new/estimates.json" "$out/criterion/$name.json"
  done
}
if [ "$only" = scrape ]; then
  scrape_bench
  {
    echo "command=just bench --only scrape$( ((quick)) && echo ' --quick')"
    echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- 2>/dev/null || echo ' (with uncommitted changes)')"
    echo "load_before=$(cut -d' ' -f1-3 /proc/loadavg)"
  } >"$out/meta.env"
  python3 crates/bench/report.py --only scrape "$out" BENCHMARKS.md
  log "done: section 2 of BENCHMARKS.md (raw results in $out)"
  exit 0
fi

# ---------------------------------------------------------------- build
log "building release binaries"
# One build per package: built together, the peers' dependencies would unify features into the
# services' telemetry crate (tracing-opentelemetry's defaults), and they would not be the
# binaries `cargo build --release -p SERVICE` gives users.
cargo build --release -p bench --bins
cargo build --release -p web-flask-equivalent --bins --example without_layer
have_redis_counter=0
if [ -f crates/redis-counter/Cargo.toml ] && cargo build --release -p redis-counter --bins; then
  have_redis_counter=1
else
  log "redis-counter does not build: its rows are marked not measured"
fi
bin=$root/target/release

venv=target/bench-venv
py_packages=(flask gunicorn prometheus-flask-exporter redis)
if ! "$venv/bin/python" -c 'import flask, gunicorn, prometheus_flask_exporter, redis' 2>/dev/null; then
  log "creating $venv (${py_packages[*]} from PyPI)"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${py_packages[@]}"
fi
cp crates/bench/flask/*.py "$out/"

# ---------------------------------------------------------------- metadata
{
  echo "command=just bench$( ((quick)) && echo ' --quick')"
  echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
  echo "cores=$(nproc)"
  echo "kernel=$(uname -r)"
  echo "load_before=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "rustc=$(rustc --version)"
  echo "wrk=$(wrk -v 2>&1 | head -1 | awk '{print $1, $2}')"
  echo "redis=$(redis-server --version | awk '{print $3}' | tr -d 'v=')"
  echo "python=$("$venv/bin/python" --version 2>&1)"
  echo "python_packages=$("$venv/bin/python" -c 'import importlib.metadata as m; print(", ".join(f"{p} {m.version(p)}" for p in ["flask", "gunicorn", "prometheus-flask-exporter", "redis"]))')"
  echo "repeats=$repeats"
  echo "duration=$duration"
  echo "memory_load=$memory_load"
  echo "connections=$connections"
  echo "threads=$threads"
  echo "quick=$quick"
  echo "have_redis_counter=$have_redis_counter"
  echo "clk_tck=$(getconf CLK_TCK)"
} >"$out/meta.env"

# ---------------------------------------------------------------- 1, 2: criterion
rm -rf target/criterion/layer target/criterion/layer_sdk_disabled target/criterion/layer_unsampled
for r in $(seq 1 "$repeats"); do
  log "criterion: telemetry layer (round $r/$repeats)"
  BENCH_OUT_DIR=$out cargo bench -q -p bench --bench layer -- "${criterion_args[@]}" >"$out/logs/criterion-layer-$r.log" 2>&1
  BENCH_TELEMETRY=sdk-disabled cargo bench -q -p bench --bench layer -- "${criterion_args[@]}" >>"$out/logs/criterion-layer-$r.log" 2>&1
  BENCH_OUT_DIR=$out BENCH_TELEMETRY=unsampled cargo bench -q -p bench --bench layer -- "${criterion_args[@]}" >>"$out/logs/criterion-layer-$r.log" 2>&1
  for group in layer layer_sdk_disabled layer_unsampled; do
    for dir in target/criterion/"$group"/*/; do
      case=$(basename "$dir")
      [ -f "$dir/new/estimates.json" ] || continue
      mkdir -p "$out/criterion/$r/$group"
      cp "$dir/new/estimates.json" "$out/criterion/$r/$group/$case.json"
    done
  done
  cp "$out/layer-spans.json" "$out/layer-spans-$r.json" 2>/dev/null || true
  cp "$out/layer-spans-unsampled.json" "$out/layer-unsampled-spans-$r.json" 2>/dev/null || true
done
scrape_bench

# ---------------------------------------------------------------- 3, 4, 5: services under wrk
log "starting redis-server, the OTLP sink and the services"
redis_port=$(free_port)
start redis redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no
redis_pid=$last_pid
for _ in $(seq 1 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
sink_grpc=$(free_port) sink_http=$(free_port)
start otlp-sink "$bin/otlp-sink" --grpc-addr "127.0.0.1:$sink_grpc" --http-addr "127.0.0.1:$sink_http"
sink_pid=$last_pid
wait_http otlp-sink "$sink_http" /healthz "$sink_pid"

declare -A port pid_of
full_env=(OTEL_EXPORTER_OTLP_PROTOCOL=grpc "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$sink_grpc" OTEL_TRACES_SAMPLER=parentbased_always_on RUST_LOG=info)
sampler_ratio=0.1 # the wfe-ratio target's OTEL_TRACES_SAMPLER_ARG
ratio_env=("${full_env[@]}" OTEL_TRACES_SAMPLER=parentbased_traceidratio "OTEL_TRACES_SAMPLER_ARG=$sampler_ratio")
metrics_env=(OTEL_SDK_DISABLED=true RUST_LOG=info)
# The targets that export spans, each under its own service.name (`bench-<target>`) at the sink.
full_targets=(peer-otel wfe-full wfe-ratio)
launch() { # name health-path env-and-command...
  local name=$1 path=$2; shift 2
  port[$name]=$(free_port)
  start "$name" env "LISTEN_ADDR=127.0.0.1:${port[$name]}" "$@"
  pid_of[$name]=$last_pid
  wait_http "$name" "${port[$name]}" "$path" "$last_pid"
}
launch_gunicorn() { # name module
  local name=$1 module=$2
  port[$name]=$(free_port)
  start "$name" env REDIS_HOST=127.0.0.1 "REDIS_PORT=$redis_port" "$venv/bin/gunicorn" \
    --chdir crates/bench/flask --workers "$(nproc)" --bind "127.0.0.1:${port[$name]}" \
    --log-level warning "$module:app"
  pid_of[$name]=$last_pid
  wait_http "$name" "${port[$name]}" / "$last_pid"
}

targets=(bare-hello peer-prom wfe-metrics wfe-no-layer peer-otel wfe-full wfe-ratio flask-000)
launch bare-hello /healthz "$bin/bare-hello"
launch peer-prom /healthz "$bin/peer-axum-prometheus"
launch wfe-metrics /healthz "${metrics_env[@]}" "$bin/web-flask-equivalent"
# The same service binary's set-up without telemetry::HttpLayer: what the layer itself costs.
launch wfe-no-layer /healthz "${metrics_env[@]}" "$bin/examples/without_layer"
launch peer-otel /healthz "${full_env[@]}" OTEL_SERVICE_NAME=bench-peer-otel "$bin/peer-assembled-otel"
launch wfe-full /healthz "${full_env[@]}" OTEL_SERVICE_NAME=bench-wfe-full "$bin/web-flask-equivalent"
launch wfe-ratio /healthz "${ratio_env[@]}" OTEL_SERVICE_NAME=bench-wfe-ratio "$bin/web-flask-equivalent"
launch_gunicorn flask-000 app000
if ((have_redis_counter)); then
  rc_env=("REDIS_URL=redis://127.0.0.1:$redis_port")
  launch rc-metrics /healthz "${metrics_env[@]}" "${rc_env[@]}" "$bin/redis-counter"
  launch rc-full /healthz "${full_env[@]}" OTEL_SERVICE_NAME=bench-rc-full "${rc_env[@]}" "$bin/redis-counter"
  targets+=(rc-metrics rc-full)
  full_targets+=(rc-full)
fi
launch_gunicorn flask-001 app001
targets+=(flask-001)
for name in "${targets[@]}"; do
  echo "$name=$(rss_kb $(family "${pid_of[$name]}"))" >>"$out/rss/idle-e2e.env"
done
printf 'full_targets=%s\nsampler_ratio=%s\n' "${full_targets[*]}" "$sampler_ratio" >>"$out/meta.env"

run_wrk() { # name round seconds
  local name=$1 r=$2 secs=$3 pids_now c0 c1 s0 s1
  pids_now=$(family "${pid_of[$name]}")
  c0=$(cpu_ticks $pids_now) s0=$(cpu_ticks "$sink_pid")
  wrk -t"$threads" -c"$connections" -d"${secs}s" --timeout 10s --latency \
    "http://127.0.0.1:${port[$name]}/" >"$out/wrk/$name.$r.txt" 2>&1 || true
  c1=$(cpu_ticks $pids_now) s1=$(cpu_ticks "$sink_pid")
  printf 'cpu_ticks=%s\nsink_cpu_ticks=%s\n' $((c1 - c0)) $((s1 - s0)) >>"$out/wrk/$name.$r.txt"
}

log "warming up each target"
for name in "${targets[@]}"; do
  wrk -t"$threads" -c"$connections" -d1s --timeout 10s "http://127.0.0.1:${port[$name]}/" >/dev/null 2>&1 || true
done
sink_before=$(http_get "$sink_http" /stats)
incr_n=$((quick ? 50000 : 200000))
for r in $(seq 1 "$repeats"); do
  for name in "${targets[@]}"; do
    log "wrk $name (round $r/$repeats, ${duration}s, -c$connections)"
    run_wrk "$name" "$r" "$duration"
  done
  log "redis-benchmark -t incr -c $connections -n $incr_n (round $r/$repeats)"
  redis-benchmark -p "$redis_port" -c "$connections" -n "$incr_n" -t incr -P 1 --csv \
    >"$out/wrk/redis-benchmark.$r.csv" 2>"$out/logs/redis-benchmark.$r.log" || true
done
echo "before=$sink_before" >"$out/sink-stats.env"
echo "after=$(http_get "$sink_http" /stats)" >>"$out/sink-stats.env"
for name in "${targets[@]}"; do
  echo "$name=$(rss_kb $(family "${pid_of[$name]}"))" >>"$out/rss/after-e2e.env"
done
# Spans delivered: each target's /metrics says how many GET / it served (read once no more
# requests come), then SIGTERM; a target flushes its queued spans before it exits, and the sink's
# count for its service.name, once stable, is what reached a collector.
for name in "${targets[@]}"; do
  case $name in flask-*) continue ;; esac
  http_get "${port[$name]}" /metrics >"$out/metrics-$name.txt" 2>/dev/null || true
done
stop_gracefully() { # name: SIGTERM, wait up to 60 s, record the exit code and the time it took
  local name=$1 pid=${pid_of[$1]} t0 i code=killed
  t0=$(date +%s.%N)
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 600); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name did not exit within 60 s of SIGTERM: killed, its queued spans are lost"
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  else
    code=0; wait "$pid" 2>/dev/null || code=$?
  fi
  printf 'exit=%s\nseconds=%s\n' "$code" "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')" >"$out/stop-$name.env"
}
for name in "${full_targets[@]}"; do stop_gracefully "$name"; done
previous="" stats=""
for _ in $(seq 1 40); do # the last export may still be in flight: wait until the count is stable
  stats=$(http_get "$sink_http" /stats)
  [ "$stats" = "$previous" ] && break
  previous=$stats
  sleep 0.5
done
echo "final=$stats" >>"$out/sink-stats.env"
for name in "${targets[@]}"; do stop "${pid_of[$name]}"; done

# ---------------------------------------------------------------- 6: memory
# Each service with full telemetry: idle, then under load for $memory_load s (RSS sampled), once
# with the OTLP sink live and once with the endpoint unreachable (a closed loopback port).
memory_run() { # name collector(up|down) binary env...
  local name=$1 collector=$2; shift 2
  local endpoint="http://127.0.0.1:$sink_grpc" key="$name.$collector" i step
  [ "$collector" = down ] && endpoint="http://127.0.0.1:$(free_port)"
  port[$key]=$(free_port)
  start "mem-$key" env "LISTEN_ADDR=127.0.0.1:${port[$key]}" OTEL_EXPORTER_OTLP_PROTOCOL=grpc \
    "OTEL_EXPORTER_OTLP_ENDPOINT=$endpoint" RUST_LOG=info "$@"
  local pid=$last_pid
  wait_http "mem-$key" "${port[$key]}" /healthz "$pid"
  sleep 1
  echo "idle=$(rss_kb "$pid")" >"$out/rss/$key.env"
  wrk -t"$threads" -c"$connections" -d"${memory_load}s" --timeout 10s \
    "http://127.0.0.1:${port[$key]}/" >"$out/wrk/mem-$key.txt" 2>&1 &
  local wrk_pid=$!
  step=$(( memory_load >= 12 ? memory_load / 6 : 2 ))
  local samples=()
  for ((i = step; i < memory_load; i += step)); do
    sleep "$step"; samples+=("$(rss_kb "$pid")")
  done
  wait "$wrk_pid" || true
  echo "samples=${samples[*]}" >>"$out/rss/$key.env"
  echo "after=$(rss_kb "$pid")" >>"$out/rss/$key.env"
  http_get "${port[$key]}" /metrics >"$out/metrics-mem-$key.txt" 2>/dev/null || true
  stop "$pid"
}
log "memory: web-flask-equivalent, ${memory_load}s of load, collector up then down"
memory_run wfe up "$bin/web-flask-equivalent"
memory_run wfe down "$bin/web-flask-equivalent"
if ((have_redis_counter)); then
  log "memory: redis-counter, ${memory_load}s of load, collector up then down"
  memory_run rc up env "REDIS_URL=redis://127.0.0.1:$redis_port" "$bin/redis-counter"
  memory_run rc down env "REDIS_URL=redis://127.0.0.1:$redis_port" "$bin/redis-counter"
fi
echo "load_after=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/meta.env"

# ---------------------------------------------------------------- report
log "writing BENCHMARKS.md"
python3 crates/bench/report.py "$out" BENCHMARKS.md
log "done: BENCHMARKS.md (raw results in $out)"
