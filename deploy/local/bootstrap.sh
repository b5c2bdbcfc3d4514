#!/usr/bin/env bash
# Install what the local stack needs on a fresh Debian machine (as root), and nothing
# when it is all there (then it takes about a second). Idempotent: run it any time.
#   - Debian packages: postgresql (15), mariadb-server, mariadb-client, chromium (the
#     console's browser test), and a JRE and
#     Maven for the Kafka broker when java/mvn are missing
#   - uv 0.13.9 (pip) and the project venv (.venv, `uv sync --frozen`)
#   - the Kafka broker jars, fetched from Maven Central into ~/.cache/jetbridge
set -euo pipefail
cd "$(dirname "$0")/../.."

started=$(date +%s.%N)
say() { printf '[bootstrap ] %s\n' "$*"; }
log=$(mktemp /tmp/jetbridge-bootstrap.XXXXXX.log)
trap 'rm -f "$log"' EXIT
quietly() {  # run a noisy command; show its output only when it fails
    if ! "$@" >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        say "FAILED: $*"
        exit 1
    fi
}

# --- Debian packages --------------------------------------------------------------
missing=()
for pkg in postgresql mariadb-server mariadb-client chromium; do
    if ! dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null | grep -q '^ii'; then
        missing+=("$pkg")
    fi
done
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        say "missing Debian packages (${missing[*]}) and not root: install them first"
        exit 1
    fi
    say "installing ${missing[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    # Keep the packages from starting their system-wide services: the stack runs its
    # own instances on other ports. policy-rc.d is Debian's switch for exactly this.
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        trap 'rm -f /usr/sbin/policy-rc.d "$log"' EXIT
    fi
    quietly apt-get update -q
    quietly apt-get install -y -q "${missing[@]}"
fi

# --- uv and the venv ---------------------------------------------------------------
if ! command -v uv >/dev/null 2>&1; then
    say "installing uv 0.13.9 (pip)"
    if ! python3 -m pip install -q uv==0.13.9 >"$log" 2>&1; then
        # Debian's own python3 is "externally managed" (PEP 668).
        quietly python3 -m pip install -q --break-system-packages uv==0.13.9
    fi
    command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
    hash -r
fi
if command -v uv >/dev/null 2>&1; then uv=(uv); else uv=(python3 -m uv); fi
[[ -x .venv/bin/python ]] || say "creating .venv (uv sync --frozen)"
quietly "${uv[@]}" sync --frozen

# --- Kafka broker jars ---------------------------------------------------------------
quietly .venv/bin/python deploy/local/stack.py jars
if grep -q 'fetched jars' "$log"; then
    say "$(grep 'fetched jars' "$log" | sed 's/^\[[^]]*\] //')"
fi

say "ok in $(awk -v s="$started" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')s"
