#!/usr/bin/env bash
# Installs everything `just test` needs on a fresh Debian machine (run as root, or with sudo):
# the real parts the tests start (redis-server, prometheus + promtool, alertmanager + amtool,
# node-exporter, chromium + chromedriver), wrk for benchmarks, docker-compose for the compose
# check, `just`, and the Python checkers in a venv at .venv.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(redis-server prometheus prometheus-alertmanager prometheus-node-exporter prometheus-redis-exporter
          docker-compose chromium chromium-driver wrk python3-venv)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# Debian starts these daemons on install where an init system runs; the tests start their own.
for daemon in redis-server prometheus prometheus-alertmanager prometheus-node-exporter prometheus-redis-exporter; do
  pkill -f "^/usr/bin/${daemon}( |$)" 2>/dev/null || true
done

command -v just >/dev/null || cargo install --locked just
command -v cargo-deny >/dev/null || cargo install --locked cargo-deny

if [ ! -x .venv/bin/check-jsonschema ] || [ ! -x .venv/bin/kubernetes-validate ]; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check \
    check-jsonschema kubernetes-validate pyyaml
fi
echo "setup: all test tools present"
