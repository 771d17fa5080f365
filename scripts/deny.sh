#!/usr/bin/env bash
# `cargo deny check` for `just check`: licenses, bans and sources always, and security advisories
# whenever the RustSec advisory database can be fetched (it lives on GitHub).
#
# Offline is detected by trying: `cargo deny fetch db` either updates the database or fails to
# reach it, and only then are advisories skipped, with the reason printed. A vulnerable dependency
# is never mistaken for being offline, since the check itself runs only after a successful fetch.
# REQUIRE_ADVISORIES=1 (the GitHub workflow sets it) turns a failed fetch into a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

status=0
fetch_log=$(timeout 180 cargo deny fetch db 2>&1) || status=$?
if [ "$status" -eq 0 ]; then
  exec cargo deny --offline check all
fi
if [ "$status" -eq 124 ]; then
  reason="no answer within 180 s"
else
  # git's own words ("Could not resolve host: github.com") say more than cargo-deny's wrapper line.
  reason=$(grep -m1 -E '^(fatal|error):' <<<"$fetch_log" || grep -m1 -i 'failed' <<<"$fetch_log" || tail -n1 <<<"$fetch_log")
fi
if [ "${REQUIRE_ADVISORIES:-0}" = 1 ]; then
  printf 'cargo deny: cannot fetch the advisory database, and REQUIRE_ADVISORIES=1:\n%s\n' "$fetch_log" >&2
  exit 1
fi
echo "cargo deny: advisories SKIPPED: the advisory database cannot be fetched from this machine (${reason})." \
  "Licenses, bans and sources are checked; the GitHub workflow checks advisories."
exec cargo deny check licenses bans sources
