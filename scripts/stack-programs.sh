#!/usr/bin/env bash
# The pinned upstream programs (Jaeger, Prometheus and promtool, Alertmanager and amtool,
# node_exporter, redis_exporter), built from the Go tools modules in deploy/tools/ at the releases
# deploy/tools/stack.tsv names, into a cache outside the source tree:
#
#   bash scripts/stack-programs.sh build [PROGRAM...]   build what is missing or out of date
#   bash scripts/stack-programs.sh bin-dir              print the folder the tests and `just dev` use
#   bash scripts/stack-programs.sh status [PROGRAM...]  one line per program: built or not (exit 1)
#
# A program is rebuilt only when its go.mod, go.sum or its row of stack.tsv changed: a stamp beside
# the binaries holds them, so a second `just setup` or CI run builds nothing. `status` uses only bash
# builtins (scripts/preflight.sh runs it on machines that may lack everything else).
# Binaries land in $STACK_CACHE/<program>-<release>/ and are linked from $STACK_CACHE/bin/.
# STACK_CACHE defaults to ${XDG_CACHE_HOME:-~/.cache}/observable-rust-services/stack. Go's own module
# and build caches (GOMODCACHE, GOCACHE) are used as usual, so a rebuild after a bump is incremental.
set -euo pipefail
here=${BASH_SOURCE[0]%/*}
[ "$here" != "${BASH_SOURCE[0]}" ] || here=.
cd "$here/.."

STACK_CACHE=${STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/observable-rust-services/stack}
table=deploy/tools/stack.tsv

# The table's rows (program, release, image, module, version flag), tab-separated, comments left out.
rows() {
  local line
  while IFS= read -r line || [ -n "$line" ]; do
    [[ -z ${line//[[:space:]]/} || $line == '#'* ]] || printf '%s\n' "$line"
  done <"$table"
}

# stamp PROGRAM ROW: what the build depends on (its tools module and its row of the table).
stamp() {
  printf '%s\n%s\n%s\n' "$(<"deploy/tools/$1/go.mod")" "$(<"deploy/tools/$1/go.sum")" "$2"
}

# built PROGRAM RELEASE ROW: is it built from exactly these inputs?
built() {
  local dir="$STACK_CACHE/$1-$2"
  [ -f "$dir/.stamp" ] && [ "$(<"$dir/.stamp")" == "$(stamp "$1" "$3")" ]
}

# The commands a tools module builds: its `tool` directives (one line, or a block).
tools_of() {
  local line block=0
  while IFS= read -r line || [ -n "$line" ]; do
    if [[ $line == 'tool (' ]]; then block=1
    elif ((block)) && [[ $line == ')' ]]; then block=0
    elif ((block)); then printf '%s\n' "${line//[[:space:]]/}"
    elif [[ $line == 'tool '* && $line != *'('* ]]; then printf '%s\n' "${line#tool }"
    fi
  done <"deploy/tools/$1/go.mod"
}

build_one() { # program release version_flag row
  local program=$1 release=$2 flag=$3 row=$4 dir started packages binary
  dir="$STACK_CACHE/$program-$release"
  mapfile -t packages < <(tools_of "$program")
  if built "$program" "$release" "$row"; then
    echo "stack-programs: $program $release already built ($dir)"
  else
    echo "stack-programs: building $program $release from deploy/tools/$program (go build: Jaeger takes" \
      "about 6 minutes on 2 cores the first time, Prometheus about 5, the others 1-2)"
    started=$SECONDS
    rm -rf "$dir.tmp"
    mkdir -p "$dir.tmp"
    (cd "deploy/tools/$program" &&
      go build -trimpath -ldflags "-s -w -X ${flag//\{release\}/$release}" -o "$dir.tmp/" "${packages[@]}")
    stamp "$program" "$row" >"$dir.tmp/.stamp"
    rm -rf "$dir"
    mv "$dir.tmp" "$dir"
    echo "stack-programs: built $program $release in $((SECONDS - started)) s"
  fi
  mkdir -p "$STACK_CACHE/bin"
  for package in "${packages[@]}"; do
    binary=${package##*/}
    ln -sfn "$dir/$binary" "$STACK_CACHE/bin/$binary"
  done
}

command=${1:-}
shift || true
selection=("$@")
# Is PROGRAM among those named on the command line (all when none is)?
wanted() { ((${#selection[@]} == 0)) || [[ " ${selection[*]} " == *" $1 "* ]]; }
case $command in
  build)
    command -v go >/dev/null || {
      echo "stack-programs: Go is missing: install Go 1.25 or newer (https://go.dev/doc/install)" >&2
      exit 1
    }
    while IFS=$'\t' read -r program release image module flag; do
      wanted "$program" || continue
      build_one "$program" "$release" "$flag" "$program	$release	$image	$module	$flag"
    done < <(rows)
    ;;
  bin-dir) echo "$STACK_CACHE/bin" ;;
  status)
    missing=0
    while IFS=$'\t' read -r program release image module flag; do
      wanted "$program" || continue
      if built "$program" "$release" "$program	$release	$image	$module	$flag"; then
        echo "$program $release: built"
      else
        echo "$program $release: not built"
        missing=1
      fi
    done < <(rows)
    exit $missing
    ;;
  *)
    echo "usage: bash scripts/stack-programs.sh build [PROGRAM...] | bin-dir | status [PROGRAM...]" >&2
    exit 2
    ;;
esac
