#!/usr/bin/env bash
# `cargo test --workspace --no-fail-fast`, then, when something failed, each failure's message again
# at the end (backtrace frames left out): CI keeps the tail of a long log, and the tail is where
# the reader looks. The whole output stays in target/test-output.log.
set -uo pipefail
mkdir -p target
log=target/test-output.log
cargo test --workspace --no-fail-fast "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
if [ "$status" -ne 0 ]; then
    echo
    echo "=== the failures again (whole output: $log) ==="
    awk '
        /^failures:$/ { inside = 1; next }
        /^test result: FAILED/ { inside = 0; print ""; next }
        inside && /^ +[0-9]+: / { next }
        inside && /^ +at / { next }
        inside && /^stack backtrace:$/ { next }
        inside { print }
    ' "$log" | grep -v '^{"' | head -n 300
fi
exit "$status"
