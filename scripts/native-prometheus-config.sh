#!/usr/bin/env bash
# Prints deploy/prometheus/prometheus.yml as the native stack (`just dev`) needs it:
# - every Compose host name becomes 127.0.0.1 (the services listen on the same ports natively);
# - the jobs of what cannot run natively are left out, so no TargetDown fires for them: cAdvisor
#   (Docker only), and with --no-jaeger Jaeger's (jobs jaeger and jaeger-spanmetrics), for a
#   machine where `just setup` has not built it.
# deploy/check.sh checks the output (promtool, and check_static.py `dev`).
#
#   bash scripts/native-prometheus-config.sh [--no-jaeger]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
not_native='cadvisor'
case ${1:-} in
  --no-jaeger) not_native='cadvisor|jaeger' ;;
  "") ;;
  *) echo "usage: bash scripts/native-prometheus-config.sh [--no-jaeger]" >&2; exit 2 ;;
esac

# A job runs from its "  - job_name:" line to the next job, comment, blank line or top-level key; it
# is dropped when one of its targets is a host that cannot run natively.
awk -v not_native="$not_native" '
  function flush() { if (!drop) printf "%s", job; job = ""; drop = 0; in_job = 0 }
  /^  - job_name:/ { if (in_job) flush(); in_job = 1; job = $0 "\n"; next }
  in_job && (/^[^ ]/ || /^  #/ || /^$/) { flush() }
  in_job { job = job $0 "\n"; if ($0 ~ "\"(" not_native "):[0-9]+\"") drop = 1; next }
  { print }
  END { if (in_job) flush() }
' deploy/prometheus/prometheus.yml |
  sed -e 's/"[a-z][a-z0-9-]*:\([0-9][0-9]*\)"/"127.0.0.1:\1"/g'
