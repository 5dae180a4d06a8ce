#!/usr/bin/env bash
# bench/compare_peers.sh: ringmail next to Postfix's smtp-sink, ringmail-floor (bench/floor/, our null server on
# liburing), aiosmtpd and npm's smtp-server on loopback, every server driven by the same generators
# (ringmail-bench and Postfix's smtp-source) in the same run; prints one table with ratios vs smtp-sink
# (messages/s, server CPU per 10,000 messages, peak RSS), ringmail's figures as ratios to the floor beside
# those to smtp-sink (per load: smtp-source, ringmail-bench lock-step and --pipelining), memory per idle
# connection, and p99 latency at a fixed open-loop rate. See docs/BENCHMARKS.md, "bench/compare_peers.sh".
#
# Usage (repository root, after the README build, `ninja -C build`):
#   bench/compare_peers.sh [--quick] [--duration S] [--max-messages N] [--idle N] [--servers a,b] [--json FILE]
# --quick: 3 cells x 3 generator variants, 1 s runs, 1,000 idle connections (1-3 minutes).
# The full run: 24 cells x 3 variants x 5 servers, <= 3 s / 20,000 messages each, 10,000 idle
# connections (about 20 minutes on 2 cores before the floor was added; not timed since).
#
# Installs what it needs when missing (root, Debian): postfix (smtp-sink, smtp-source) and
# python3-aiosmtpd with apt-get, nodejs/npm only if `node`/`npm` are missing, and npm's smtp-server@3
# into bench/peers/node/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
dpkg-query -W -f='${Status}' postfix 2>/dev/null | grep -q 'ok installed' || need+=(postfix)
[[ -x /usr/bin/python3 ]] && /usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || need+=(python3-aiosmtpd)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
if ((${#need[@]})); then
    echo "bench/compare_peers.sh: installing ${need[*]}" >&2
    sudo=()
    ((EUID == 0)) || sudo=(sudo)
    echo 'postfix postfix/main_mailer_type select No configuration' | "${sudo[@]}" debconf-set-selections
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2 || {
        "${sudo[@]}" apt-get update -qq >&2
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
    }
fi

NODE_DIR=bench/peers/node
if [[ ! -f $NODE_DIR/node_modules/smtp-server/package.json ]]; then
    echo "bench/compare_peers.sh: npm install smtp-server@3 into $NODE_DIR" >&2
    mkdir -p "$NODE_DIR"
    timeout 300 npm install --prefix "$NODE_DIR" --no-audit --no-fund --loglevel=error smtp-server@3 >&2
fi

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec /usr/bin/python3 bench/compare_peers.py --node-dir "$NODE_DIR" "$@"
